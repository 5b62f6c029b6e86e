//! The `kubectl` binary.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = kubectl::cli::main(args);
    std::process::exit(code);
}
