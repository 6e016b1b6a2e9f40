//! What every `greenloop` failure must look like, for the end-to-end tests of the binary.

use std::process::Output;

/// A non-zero exit and one line on stderr, starting `greenloop: ` and holding `expect`, with no
/// panic or backtrace in it.
pub fn assert_one_line_error(out: &Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(
        stderr.starts_with("greenloop: ") && stderr.contains(expect),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}
