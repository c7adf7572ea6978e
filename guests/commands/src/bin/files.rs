//! Works on the folders the sandbox preopened, as its arguments say:
//! `files cat PATH` prints a file, `files write PATH` writes its input to a file,
//! `files ls PATH` lists a folder (sorted). A failure is printed to stderr with the
//! error the sandbox gave, and the exit code is 2.
use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(command), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: files cat|write|ls PATH");
        std::process::exit(64);
    };
    let result = match command.as_str() {
        "cat" => std::fs::read(path).and_then(|bytes| std::io::stdout().write_all(&bytes)),
        "write" => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .and_then(|_| std::fs::write(path, &input))
        }
        "ls" => std::fs::read_dir(path).and_then(|entries| {
            let mut names = entries
                .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<Vec<_>, _>>()?;
            names.sort();
            for name in names {
                println!("{name}");
            }
            Ok(())
        }),
        other => {
            eprintln!("unknown command `{other}`");
            std::process::exit(64);
        }
    };
    if let Err(error) = result {
        eprintln!("{command} {path}: {error}");
        std::process::exit(2);
    }
}
