// The project's Rust proof checker (the same code as `greenloop proof check`), compiled to
// WebAssembly and called through its raw ABI: alloc/free/check over the module's memory.

const WASM_URL = '/assets/verifier.wasm';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

let instancePromise = null;

// Load the module once per page; a failed load is forgotten so a later call can retry.
function load() {
  if (!instancePromise) {
    instancePromise = (async () => {
      const response = await fetch(WASM_URL);
      if (!response.ok) throw new Error(`${WASM_URL}: HTTP ${response.status}`);
      const { instance } = await WebAssembly.instantiateStreaming(response, {});
      return instance.exports;
    })();
    instancePromise.catch(() => {
      instancePromise = null;
    });
  }
  return instancePromise;
}

// check(keyHex, bundle) -> {ok: true, line} or {ok: false, error}.
// bundle is a proof bundle object as the CLI saves it ({"checkpoint": …}, {"consistency": …}, …).
// Rejects only if the verifier itself cannot run (not loaded, trapped, unreadable output).
export async function check(keyHex, bundle) {
  const { memory, alloc, free, check: run } = await load();
  const input = encoder.encode(JSON.stringify({ key: keyHex, bundle }));
  const inPtr = alloc(input.length) >>> 0;
  try {
    // Take the memory view after alloc: growing the memory detaches older views.
    new Uint8Array(memory.buffer, inPtr, input.length).set(input);
    const packed = BigInt.asUintN(64, BigInt(run(inPtr, input.length)));
    const outPtr = Number(packed >> 32n);
    const outLen = Number(packed & 0xffffffffn);
    let text;
    try {
      text = decoder.decode(new Uint8Array(memory.buffer, outPtr, outLen));
    } finally {
      free(outPtr, outLen);
    }
    return JSON.parse(text);
  } finally {
    free(inPtr, input.length);
  }
}
