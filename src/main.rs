use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = tenderpool::cli::Cli::parse();
    match tenderpool::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenderpool: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
