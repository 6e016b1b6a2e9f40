//! The mean a bench reports beside criterion's own output, to put in a ratio.

use criterion::Criterion;

/// Benchmarks `f` with criterion; returns its mean in nanoseconds over every iteration
/// criterion ran (warm-up included).
pub fn mean_ns(c: &mut Criterion, name: &str, mut f: impl FnMut()) -> f64 {
    let (mut nanos, mut runs) = (0u128, 0u64);
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                f();
            }
            let took = start.elapsed();
            nanos += took.as_nanos();
            runs += iters;
            took
        })
    });
    nanos as f64 / runs as f64
}
