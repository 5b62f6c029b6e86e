//! The `kubectl` binary.

fn main() {
    // Never show a Rust panic or backtrace to users: report it like any
    // other error, with exit code 1.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unexpected internal error".into());
        eprintln!("error: internal error: {msg}");
        std::process::exit(1);
    }));
    let args: Vec<String> = std::env::args().collect();
    let code = kubectl::cli::main(args);
    std::process::exit(code);
}
