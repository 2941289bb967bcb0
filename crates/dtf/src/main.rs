fn main() -> std::process::ExitCode {
    dtf_cli::main()
}
