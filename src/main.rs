fn main() -> std::process::ExitCode {
    pil_ledger::cli::main()
}
