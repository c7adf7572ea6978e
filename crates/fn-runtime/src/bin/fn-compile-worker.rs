//! A compile worker for [`fn_core::Config::compile_worker`], for library users who do not
//! ship a program of their own: `CompileWorker { program: "/path/to/fn-compile-worker",
//! args: [] }`. It answers one compile request on its standard input and output and
//! exits; see `fn_runtime::worker`.

fn main() -> std::process::ExitCode {
    fn_runtime::worker::serve()
}
