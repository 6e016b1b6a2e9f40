// Times the committed browser verifier (shared/web/verifier.wasm) in Node.js (V8, the engine of
// Chromium) on the bundles `cargo bench -p greenloop-wasm --bench witness` wrote, through the same
// raw ABI shared/web/verifier.js uses. Run by infra/bench-witness.
import fs from 'node:fs';

const [wasmPath, dir] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmPath), {});
const e = instance.exports;

function check(input) {
  const p = e.alloc(input.length);
  new Uint8Array(e.memory.buffer, p, input.length).set(input);
  const r = e.check(p, input.length);
  e.free(p, input.length);
  const op = Number(r >> 32n);
  const ol = Number(r & 0xffffffffn);
  const out = JSON.parse(new TextDecoder().decode(new Uint8Array(e.memory.buffer, op, ol)));
  e.free(op, ol);
  return out;
}

for (const name of ['checkpoint', 'consistency']) {
  const input = new TextEncoder().encode(fs.readFileSync(`${dir}/${name}.json`, 'utf8'));
  if (!check(input).ok) throw new Error(`${name}: the bundle does not check`);
  for (let i = 0; i < 200; i++) check(input); // warm up the JIT
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < 3_000_000_000n) {
    for (let i = 0; i < 50; i++) check(input);
    runs += 50;
    elapsed = process.hrtime.bigint() - start;
  }
  console.log(`wasm_ns ${name}=${(Number(elapsed) / runs).toFixed(0)} (${runs} runs)`);
}
