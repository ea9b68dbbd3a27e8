//! `fastdata cql`: a CQL shell in the manner of cqlsh, on the `scylla` driver (used unmodified).
//!
//! Statements run from `-e`, from `-f FILE`, from a piped stdin, or typed at a prompt with
//! history (rustyline: line editing and a history file, `~/.fastdata_cql_history`). A
//! statement ends at `;` outside strings, quoted names and comments (`--`, `//`, `/* */`, which
//! are blanked before the text is sent), so it may span lines; `BEGIN BATCH ... APPLY BATCH;`
//! is one statement. The shell's own commands (`CONSISTENCY`, `SERIAL CONSISTENCY`, `PAGING`,
//! `EXPAND`, `SOURCE`, `SHOW`, `HELP`, `EXIT`, `QUIT`) also end at the end of their line, and
//! `DESCRIBE`/`DESC` and `USE` go to the server as cqlsh 6 sends them. With `--prepared` (not
//! in cqlsh) every other statement is PREPAREd and then EXECUTEd, as applications run them.
//!
//! Output is cqlsh's: rows as a table (names left-aligned, values right-aligned, a header and
//! a `---+---` rule) followed by `(N rows)`, or as vertical records with `EXPAND ON`; values
//! formatted as cqlsh formats them (timestamps `2024-01-31 10:00:00.000000+0000` in UTC,
//! blobs `0x...`, text plain and quoted inside collections, floats to 5 significant digits,
//! `null`); `DESCRIBE` prints the server's `create_statement`s. Paging is on (100 rows a page)
//! by default; at a terminal the shell waits for Enter between pages.
//!
//! Errors go to stderr as `[SOURCE:LINE:]Class: Error from server: code=2200 [Invalid query]
//! message="..."`: the python driver's class name and summary, Cassandra's code and the
//! server's message; `SOURCE:LINE:` (the file or `<stdin>`, the line the statement ends on)
//! when not at a terminal. When a statement from `-e`, `-f` or a piped stdin fails, the shell
//! goes on with the next one and exits with status 1 at the end.

use std::fmt::Write as _;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, PrepareError, RequestAttemptError};
use scylla::frame::response::result::{CollectionType, ColumnType, NativeType};
use scylla::response::query_result::QueryResult;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency, Statement};
use scylla::value::{CqlValue, Row};
use unicode_width::UnicodeWidthStr;

/// The dev node's CQL address, the default of `--host`.
pub const DEFAULT_HOST: &str = "127.0.0.1:9042";

/// Rows a page, as cqlsh's default.
const DEFAULT_PAGE_SIZE: i32 = 100;

/// Significant digits of floats and doubles, as cqlsh 6.2's defaults.
const FLOAT_PRECISION: usize = 5;

/// The history file, in the home directory.
const HISTORY_FILE: &str = ".fastdata_cql_history";

/// The shell's commands that also end at the end of their line (cqlsh's list).
const LINE_COMMANDS: [&str; 11] = [
    "HELP",
    "?",
    "CONSISTENCY",
    "SERIAL",
    "DESCRIBE",
    "DESC",
    "SHOW",
    "SOURCE",
    "EXPAND",
    "PAGING",
    "EXIT",
];

/// `fastdata cql ...`
#[derive(Debug, Args)]
pub struct CqlArgs {
    /// The node to connect to.
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_HOST)]
    host: String,
    /// Run these statements (separated by `;`) and exit.
    #[arg(
        short = 'e',
        long = "execute",
        value_name = "STATEMENTS",
        conflicts_with = "file"
    )]
    execute: Option<String>,
    /// Run the statements of this file and exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Start in this keyspace (as `USE KEYSPACE`).
    #[arg(short = 'k', long = "keyspace", value_name = "KEYSPACE")]
    keyspace: Option<String>,
    /// Run every CQL statement but USE and DESCRIBE as applications do: PREPARE it, then
    /// EXECUTE it (not in cqlsh).
    #[arg(long)]
    prepared: bool,
}

/// Runs `fastdata cql`.
pub fn run(args: CqlArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let session = runtime
        .block_on(SessionBuilder::new().known_node(&args.host).build())
        .with_context(|| format!("connecting to {}", args.host))?;
    let interactive = args.execute.is_none() && args.file.is_none() && io::stdin().is_terminal();
    let mut shell = Shell {
        runtime,
        session,
        host: args.host.clone(),
        consistency: Consistency::One,
        serial_consistency: SerialConsistency::Serial,
        paging: true,
        page_size: DEFAULT_PAGE_SIZE,
        expand: false,
        keyspace: None,
        prepared: args.prepared,
        tty: interactive,
        failed: false,
        stop: false,
    };
    if let Some(keyspace) = &args.keyspace {
        let source = Source::new("<stdin>".to_owned());
        shell.run_statement(&source, &format!("USE {keyspace}"), 1);
        if shell.failed {
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(statements) = &args.execute {
        // As cqlsh does, `-e` text gets the `;` its last statement may lack.
        let mut text = statements.clone();
        if !text.trim_end().ends_with(';') {
            text.push(';');
        }
        shell.run_text(&Source::new("<stdin>".to_owned()), &text);
    } else if let Some(file) = &args.file {
        shell.run_file(file)?;
    } else if interactive {
        shell.interactive()?;
    } else {
        let mut text = String::new();
        io::stdin()
            .lock()
            .read_to_string_lossy(&mut text)
            .context("reading statements from stdin")?;
        shell.run_text(&Source::new("<stdin>".to_owned()), &text);
    }
    Ok(if shell.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads all of a reader as text, replacing invalid UTF-8.
trait ReadLossy {
    fn read_to_string_lossy(&mut self, out: &mut String) -> io::Result<()>;
}

impl<R: io::Read> ReadLossy for R {
    fn read_to_string_lossy(&mut self, out: &mut String) -> io::Result<()> {
        let mut bytes = Vec::new();
        self.read_to_end(&mut bytes)?;
        out.push_str(&String::from_utf8_lossy(&bytes));
        Ok(())
    }
}

/// Where statements come from, for error prefixes.
struct Source {
    name: String,
}

impl Source {
    fn new(name: String) -> Source {
        Source { name }
    }
}

/// The shell's state: the session and the settings its commands change.
struct Shell {
    runtime: tokio::runtime::Runtime,
    session: Session,
    host: String,
    consistency: Consistency,
    serial_consistency: SerialConsistency,
    paging: bool,
    page_size: i32,
    expand: bool,
    keyspace: Option<String>,
    prepared: bool,
    tty: bool,
    failed: bool,
    stop: bool,
}

impl Shell {
    /// Runs every statement of `text`; an unterminated last statement is an error.
    fn run_text(&mut self, source: &Source, text: &str) {
        let mut splitter = Splitter::default();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            for (statement, line_no) in splitter.push(line, i + 1) {
                self.run_statement(source, &statement, line_no);
                if self.stop {
                    return;
                }
            }
        }
        // `-e` text need not end with a newline: a shell command on the last line ends there.
        if let Some((statement, line_no)) = splitter.finish_line() {
            self.run_statement(source, &statement, line_no);
        }
        if splitter.pending() {
            let line = text.lines().count().max(1);
            self.error(source, line, "Incomplete statement at end of file");
        }
    }

    fn run_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let text = String::from_utf8_lossy(&text);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        self.run_text(&Source::new(path.display().to_string()), text);
        Ok(())
    }

    /// The prompt loop at a terminal, with line editing and history.
    fn interactive(&mut self) -> anyhow::Result<()> {
        use rustyline::error::ReadlineError;
        let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
        let history = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(HISTORY_FILE));
        if let Some(history) = &history {
            // A missing history file is a first run, not an error.
            let _ = editor.load_history(history);
        }
        println!("Connected to {} at {}.", self.cluster_name(), self.host);
        self.show_version();
        println!("Use HELP for help.");
        let source = Source::new("<stdin>".to_owned());
        let mut splitter = Splitter::default();
        let mut line_no = 0;
        while !self.stop {
            let prompt = if splitter.pending() {
                "   ... ".to_owned()
            } else {
                match &self.keyspace {
                    Some(ks) => format!("fastdata:{ks}> "),
                    None => "fastdata> ".to_owned(),
                }
            };
            match editor.readline(&prompt) {
                Ok(line) => {
                    line_no += 1;
                    let mut text = line.clone();
                    text.push('\n');
                    let statements = splitter.push(&text, line_no);
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    for (statement, line_no) in statements {
                        self.run_statement(&source, &statement, line_no);
                        if self.stop {
                            break;
                        }
                    }
                }
                Err(ReadlineError::Interrupted) => splitter = Splitter::default(),
                Err(ReadlineError::Eof) => {
                    println!();
                    break;
                }
                Err(err) => return Err(err).context("reading a line"),
            }
        }
        if let Some(history) = &history {
            let _ = editor.save_history(history);
        }
        // Errors at the prompt are shown, not an exit status.
        self.failed = false;
        Ok(())
    }

    /// Runs one complete statement: a shell command, or CQL sent to the server.
    fn run_statement(&mut self, source: &Source, statement: &str, line: usize) {
        let words: Vec<String> = statement
            .trim_end_matches(';')
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let Some(first) = words.first().map(|w| w.to_ascii_uppercase()) else {
            return;
        };
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        match first.as_str() {
            "EXIT" | "QUIT" if args.is_empty() => self.stop = true,
            "CONSISTENCY" => self.consistency_command(source, line, &args),
            "SERIAL" => self.serial_command(source, line, &args),
            "PAGING" => self.paging_command(source, line, &args),
            "EXPAND" => self.expand_command(source, line, &args),
            "SOURCE" => self.source_command(source, line, statement),
            "SHOW" => self.show_command(source, line, &args),
            "HELP" | "?" => print_help(),
            "DESCRIBE" | "DESC" => self.describe(source, line, statement, &args),
            "USE" => {
                if self.execute(source, line, statement, true).is_some() {
                    self.keyspace = args
                        .first()
                        .map(|ks| unquote_name(ks.trim_end_matches(';')));
                }
            }
            _ => {
                if let Some(result) = self.execute(source, line, statement, false) {
                    self.print_result(result);
                }
            }
        }
        let _ = io::stdout().flush();
    }

    fn consistency_command(&mut self, source: &Source, line: usize, args: &[&str]) {
        match args {
            [] => println!(
                "Current consistency level is {}.",
                consistency_name(self.consistency)
            ),
            [level] => match parse_consistency(level) {
                Some(c) => {
                    self.consistency = c;
                    println!("Consistency level set to {}.", level.to_ascii_uppercase());
                }
                None => self.error(source, line, "Improper CONSISTENCY command."),
            },
            _ => self.error(source, line, "Improper CONSISTENCY command."),
        }
    }

    fn serial_command(&mut self, source: &Source, line: usize, args: &[&str]) {
        let level = match args {
            [word] if word.eq_ignore_ascii_case("CONSISTENCY") => None,
            [word, level] if word.eq_ignore_ascii_case("CONSISTENCY") => Some(*level),
            _ => return self.error(source, line, "Improper SERIAL command."),
        };
        match level {
            None => println!(
                "Current serial consistency level is {}.",
                match self.serial_consistency {
                    SerialConsistency::Serial => "SERIAL",
                    SerialConsistency::LocalSerial => "LOCAL_SERIAL",
                }
            ),
            Some(level) => {
                self.serial_consistency = match level.to_ascii_uppercase().as_str() {
                    "SERIAL" => SerialConsistency::Serial,
                    "LOCAL_SERIAL" => SerialConsistency::LocalSerial,
                    _ => return self.error(source, line, "Improper SERIAL command."),
                };
                println!(
                    "Serial consistency level set to {}.",
                    level.to_ascii_uppercase()
                );
            }
        }
    }

    fn paging_command(&mut self, source: &Source, line: usize, args: &[&str]) {
        match args {
            [] => println!("PAGING is {}", on_off(self.paging)),
            [n] if n.chars().all(|c| c.is_ascii_digit()) => match n.parse::<i32>() {
                Ok(size) if size > 0 => {
                    self.paging = true;
                    self.page_size = size;
                    println!("Page size: {}", self.page_size);
                }
                _ => self.error(source, line, "Improper PAGING command."),
            },
            [switch] => match parse_switch(switch) {
                Some(on) => {
                    self.paging = switch_to("PAGING", self.paging, on);
                    if self.paging {
                        println!("Page size: {}", self.page_size);
                    } else {
                        self.page_size = DEFAULT_PAGE_SIZE;
                    }
                }
                None => self.error(source, line, "Improper PAGING command."),
            },
            _ => self.error(source, line, "Improper PAGING command."),
        }
    }

    fn expand_command(&mut self, source: &Source, line: usize, args: &[&str]) {
        match args {
            [] => println!("EXPAND is {}", on_off(self.expand)),
            [switch] => match parse_switch(switch) {
                Some(on) => self.expand = switch_to("EXPAND", self.expand, on),
                None => self.error(source, line, "Improper EXPAND command."),
            },
            _ => self.error(source, line, "Improper EXPAND command."),
        }
    }

    fn source_command(&mut self, source: &Source, line: usize, statement: &str) {
        let rest = statement.trim().trim_end_matches(';').trim_end();
        let rest = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
        let Some(name) = unquote_string(rest) else {
            return self.error(source, line, "Improper SOURCE command.");
        };
        let path = match name.strip_prefix("~/") {
            Some(rest) => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(rest))
                .unwrap_or_else(|| PathBuf::from(&name)),
            None => PathBuf::from(&name),
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
                let tty = std::mem::replace(&mut self.tty, false);
                self.run_text(&Source::new(name.clone()), text);
                self.tty = tty;
                // EXIT in a sourced file ends that file only.
                self.stop = false;
            }
            Err(err) => self.error(source, line, &format!("Could not open '{name}': {err}")),
        }
    }

    fn show_command(&mut self, source: &Source, line: usize, args: &[&str]) {
        match args.first().map(|a| a.to_ascii_uppercase()).as_deref() {
            Some("VERSION") if args.len() == 1 => self.show_version(),
            Some("HOST") if args.len() == 1 => {
                println!("Connected to {} at {}.", self.cluster_name(), self.host)
            }
            _ => self.error(source, line, "Improper SHOW command."),
        }
    }

    /// The node's `release_version`, `cql_version` and `cluster_name` from `system.local`.
    fn local_info(&self) -> Option<(String, String, String)> {
        let query = "SELECT release_version, cql_version, cluster_name FROM system.local \
                     WHERE key = 'local'";
        let result = self
            .runtime
            .block_on(self.session.query_unpaged(query, ()))
            .ok()?;
        let rows = result.into_rows_result().ok()?;
        let (release, cql, cluster) = rows
            .maybe_first_row::<(Option<String>, Option<String>, Option<String>)>()
            .ok()??;
        Some((
            release.unwrap_or_default(),
            cql.unwrap_or_default(),
            cluster.unwrap_or_default(),
        ))
    }

    fn cluster_name(&self) -> String {
        self.local_info()
            .map(|(_, _, cluster)| cluster)
            .unwrap_or_else(|| "an unknown cluster".to_owned())
    }

    fn show_version(&self) {
        let (release, cql, _) = self.local_info().unwrap_or_default();
        println!(
            "[fastdata cql {} | Cassandra {release} | CQL spec {cql} | Native protocol v4]",
            env!("CARGO_PKG_VERSION")
        );
    }

    /// Sends `statement` to the server with the shell's consistency and paging (prepared first
    /// with `--prepared`, unless `plain`); the pages of its result, or `None` after printing
    /// the error.
    fn execute(
        &mut self,
        source: &Source,
        line: usize,
        statement: &str,
        plain: bool,
    ) -> Option<Pages> {
        let text = statement.trim().trim_end_matches(';').to_owned();
        let query = if self.prepared && !plain {
            match self.runtime.block_on(self.session.prepare(text)) {
                Ok(mut prepared) => {
                    prepared.set_consistency(self.consistency);
                    prepared.set_serial_consistency(Some(self.serial_consistency));
                    prepared.set_page_size(self.page_size);
                    Query::Prepared(prepared)
                }
                Err(err) => {
                    self.execution_error(source, line, &ExecutionError::PrepareError(err));
                    return None;
                }
            }
        } else {
            let mut query = Statement::new(text);
            query.set_consistency(self.consistency);
            query.set_serial_consistency(Some(self.serial_consistency));
            query.set_page_size(self.page_size);
            Query::Plain(query)
        };
        let mut pages = Pages {
            query,
            paged: self.paging,
            next: None,
            first: None,
            source: source.name.clone(),
            line,
        };
        match self.fetch(&pages, PagingState::start()) {
            Ok((result, next)) => {
                pages.first = Some(result);
                pages.next = next;
                Some(pages)
            }
            Err(err) => {
                self.execution_error(source, line, &err);
                None
            }
        }
    }

    /// One page of `pages`' query from `state` (all of it when paging is off), and where the
    /// next page starts.
    fn fetch(
        &self,
        pages: &Pages,
        state: PagingState,
    ) -> Result<(QueryResult, Option<PagingState>), Box<ExecutionError>> {
        let session = &self.session;
        let (result, response) = match (&pages.query, pages.paged) {
            (Query::Plain(q), true) => self
                .runtime
                .block_on(session.query_single_page(q.clone(), (), state))
                .map_err(Box::new)?,
            (Query::Plain(q), false) => (
                self.runtime
                    .block_on(session.query_unpaged(q.clone(), ()))
                    .map_err(Box::new)?,
                PagingStateResponse::NoMorePages,
            ),
            (Query::Prepared(p), true) => self
                .runtime
                .block_on(session.execute_single_page(p, (), state))
                .map_err(Box::new)?,
            (Query::Prepared(p), false) => (
                self.runtime
                    .block_on(session.execute_unpaged(p, ()))
                    .map_err(Box::new)?,
                PagingStateResponse::NoMorePages,
            ),
        };
        let next = match response {
            PagingStateResponse::HasMorePages { state } => Some(state),
            PagingStateResponse::NoMorePages => None,
        };
        Ok((result, next))
    }

    /// The next page of `pages`, or `None` at the end (a failure is printed and ends it).
    fn next_page(&mut self, pages: &mut Pages) -> Option<QueryResult> {
        if let Some(first) = pages.first.take() {
            return Some(first);
        }
        let state = pages.next.take()?;
        match self.fetch(pages, state) {
            Ok((result, next)) => {
                pages.next = next;
                Some(result)
            }
            Err(err) => {
                let source = Source::new(pages.source.clone());
                self.execution_error(&source, pages.line, &err);
                None
            }
        }
    }

    /// Prints a result as cqlsh does: nothing for a result without rows; else a table (or
    /// vertical records) per page, and the row count.
    fn print_result(&mut self, mut pages: Pages) {
        let mut total = 0;
        let mut first = true;
        let mut printed_any = false;
        while let Some(result) = self.next_page(&mut pages) {
            print_warnings(&result);
            let Ok(rows) = result.into_rows_result() else {
                // Not rows (a write, DDL): cqlsh prints nothing.
                return;
            };
            if first {
                println!();
            }
            let names: Vec<String> = rows
                .column_specs()
                .iter()
                .map(|spec| format_text(spec.name(), false))
                .collect();
            let types: Vec<ColumnType<'static>> = rows
                .column_specs()
                .iter()
                .map(|spec| spec.typ().clone().into_owned())
                .collect();
            let mut formatted: Vec<Vec<String>> = Vec::new();
            match rows.rows::<Row>() {
                Ok(iter) => {
                    for row in iter {
                        match row {
                            Ok(row) => formatted.push(
                                row.columns
                                    .iter()
                                    .zip(&types)
                                    .map(|(v, t)| format_value(v.as_ref(), t, false))
                                    .collect(),
                            ),
                            Err(err) => {
                                eprintln!("Failed to decode a row: {err}");
                                self.failed = true;
                            }
                        }
                    }
                }
                Err(err) => {
                    eprintln!("Failed to decode the rows: {err}");
                    self.failed = true;
                }
            }
            if !formatted.is_empty() || first {
                let with_header = first || self.tty;
                if self.expand && !formatted.is_empty() {
                    print_vertical(&names, &formatted, total);
                } else {
                    print_table(&names, &formatted, with_header, self.tty);
                }
                printed_any = true;
            }
            total += formatted.len();
            first = false;
            if pages.next.is_some() && self.tty {
                print!("---MORE---");
                let _ = io::stdout().flush();
                let mut answer = String::new();
                if io::stdin().lock().read_line(&mut answer).is_err() {
                    break;
                }
            }
        }
        if printed_any {
            if !self.tty {
                println!();
            }
            println!("({total} rows)");
        }
    }

    /// `DESCRIBE ...`: sent to the server (at LOCAL_ONE, as cqlsh does), its rows printed as
    /// cqlsh prints them for each kind.
    fn describe(&mut self, source: &Source, line: usize, statement: &str, args: &[&str]) {
        let consistency = std::mem::replace(&mut self.consistency, Consistency::LocalOne);
        let pages = self.execute(source, line, statement, true);
        self.consistency = consistency;
        let Some(mut pages) = pages else {
            return;
        };
        let mut rows: Vec<Vec<(String, Option<CqlValue>)>> = Vec::new();
        while let Some(result) = self.next_page(&mut pages) {
            print_warnings(&result);
            let Ok(result) = result.into_rows_result() else {
                return;
            };
            let names: Vec<String> = result
                .column_specs()
                .iter()
                .map(|s| s.name().to_owned())
                .collect();
            let Ok(iter) = result.rows::<Row>() else {
                return;
            };
            for row in iter.flatten() {
                rows.push(names.iter().cloned().zip(row.columns).collect());
            }
        }
        let field = |row: &[(String, Option<CqlValue>)], name: &str| -> String {
            row.iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.as_ref())
                .map(|v| match v {
                    CqlValue::Text(s) | CqlValue::Ascii(s) => s.clone(),
                    other => {
                        format_value(Some(other), &ColumnType::Native(NativeType::Text), false)
                    }
                })
                .unwrap_or_default()
        };
        let what = args
            .first()
            .map(|a| a.trim_end_matches(';').to_ascii_lowercase())
            .unwrap_or_default();
        match what.as_str() {
            "keyspaces" => {
                println!();
                columnize(&rows.iter().map(|r| field(r, "name")).collect::<Vec<_>>());
                println!();
            }
            "tables" | "columnfamilies" | "types" | "functions" | "aggregates" => {
                let mut keyspace: Option<String> = None;
                let mut names = Vec::new();
                for row in &rows {
                    let ks = field(row, "keyspace_name");
                    if keyspace.as_deref() != Some(ks.as_str()) {
                        if let Some(previous) = &keyspace {
                            self.print_keyspace_names(previous, &names);
                        }
                        keyspace = Some(ks);
                        names.clear();
                    }
                    names.push(field(row, "name"));
                }
                if let Some(keyspace) = &keyspace {
                    self.print_keyspace_names(keyspace, &names);
                    println!();
                }
            }
            "cluster" => {
                for row in &rows {
                    println!("\nCluster: {}", field(row, "cluster"));
                    println!("Partitioner: {}", field(row, "partitioner"));
                    println!("Snitch: {}\n", field(row, "snitch"));
                }
            }
            _ => {
                for row in &rows {
                    println!();
                    print!("{}", field(row, "create_statement"));
                    println!();
                }
            }
        }
    }

    fn print_keyspace_names(&self, keyspace: &str, names: &[String]) {
        println!();
        if self.keyspace.is_none() {
            println!("Keyspace {keyspace}");
            println!("---------{}", "-".repeat(keyspace.chars().count()));
        }
        columnize(names);
    }

    fn execution_error(&mut self, source: &Source, line: usize, err: &ExecutionError) {
        let message = match db_error(err) {
            Some((db, message)) => {
                let (class, code, summary) = error_class(db);
                format!(
                    "{class}: Error from server: code={code:04x} [{summary}] message=\"{message}\""
                )
            }
            None => format!("{}: {err}", client_error_class(err)),
        };
        self.error(source, line, &message);
    }

    /// Prints an error to stderr (after flushing stdout, so merged output keeps its order),
    /// prefixed `SOURCE:LINE:` when not at a terminal, and remembers that one happened.
    fn error(&mut self, source: &Source, line: usize, message: &str) {
        let _ = io::stdout().flush();
        if self.tty {
            eprintln!("{message}");
        } else {
            eprintln!("{}:{line}:{message}", source.name);
        }
        self.failed = true;
    }
}

/// The pages of one statement's result, fetched as they are printed.
struct Pages {
    query: Query,
    paged: bool,
    next: Option<PagingState>,
    first: Option<QueryResult>,
    /// Where the statement came from, for an error on a later page.
    source: String,
    line: usize,
}

/// A statement as sent: a plain QUERY, or PREPAREd and EXECUTEd.
enum Query {
    Plain(Statement),
    Prepared(PreparedStatement),
}

fn print_warnings(result: &QueryResult) {
    let warnings: Vec<&str> = result.warnings().collect();
    if warnings.is_empty() {
        return;
    }
    println!();
    println!("Warnings :");
    for warning in warnings {
        println!("{warning}");
        println!();
    }
}

/// A table as cqlsh prints one page: header (names left-aligned, trailing blanks trimmed), a
/// rule, the rows (values right-aligned); a blank line after the rows at a terminal, and after
/// the header of an empty result.
fn print_table(names: &[String], rows: &[Vec<String>], with_header: bool, tty: bool) {
    let mut widths: Vec<usize> = names.iter().map(|n| width(n)).collect();
    for row in rows {
        for (w, value) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(value));
        }
    }
    let mut out = String::new();
    if with_header {
        let header: Vec<String> = names
            .iter()
            .zip(&widths)
            .map(|(n, &w)| ljust(n, w))
            .collect();
        let _ = writeln!(out, " {}", header.join(" | ").trim_end());
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        let _ = writeln!(out, "-{}-", rule.join("-+-"));
    }
    if rows.is_empty() {
        out.push('\n');
    } else {
        for row in rows {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(v, &w)| rjust(v, w)).collect();
            let _ = writeln!(out, " {}", cells.join(" | "));
        }
        if tty {
            out.push('\n');
        }
    }
    print!("{out}");
}

/// Rows as vertical records (`EXPAND ON`), numbered from `offset + 1`.
fn print_vertical(names: &[String], rows: &[Vec<String>], offset: usize) {
    let name_width = names.iter().map(|n| width(n)).max().unwrap_or(0);
    let value_width = rows
        .iter()
        .flat_map(|r| r.iter().map(|v| width(v)))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(out, "@ Row {}", offset + i + 1);
        let _ = writeln!(
            out,
            "-{}-+-{}-",
            "-".repeat(name_width),
            "-".repeat(value_width)
        );
        for (name, value) in names.iter().zip(row) {
            let _ = writeln!(out, " {} | {value}", ljust(name, name_width));
        }
        out.push('\n');
    }
    print!("{out}");
}

/// Names in columns across an 80-character line, as Python's `cmd.Cmd.columnize`.
fn columnize(items: &[String]) {
    print!("{}", columnize_text(items, 80));
}

fn columnize_text(items: &[String], display_width: usize) -> String {
    if items.is_empty() {
        return "<empty>\n".to_owned();
    }
    if items.len() == 1 {
        return format!("{}\n", items[0]);
    }
    let size = items.len();
    let mut layout = None;
    for nrows in 1..size {
        let ncols = size.div_ceil(nrows);
        let mut col_widths = Vec::new();
        let mut total: isize = -2;
        for col in 0..ncols {
            let w = (0..nrows)
                .map(|row| row + nrows * col)
                .take_while(|&i| i < size)
                .map(|i| items[i].chars().count())
                .max()
                .unwrap_or(0);
            col_widths.push(w);
            total += w as isize + 2;
            if total > display_width as isize {
                break;
            }
        }
        if total <= display_width as isize {
            layout = Some((nrows, ncols, col_widths));
            break;
        }
    }
    let (nrows, ncols, col_widths) = layout.unwrap_or((size, 1, vec![0]));
    let mut out = String::new();
    for row in 0..nrows {
        let mut texts: Vec<&str> = (0..ncols)
            .map(|col| {
                let i = row + nrows * col;
                items.get(i).map(String::as_str).unwrap_or("")
            })
            .collect();
        while texts.last().is_some_and(|t| t.is_empty()) {
            texts.pop();
        }
        let cells: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(col, t)| ljust(t, col_widths.get(col).copied().unwrap_or(0)))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  "));
    }
    out
}

fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

fn ljust(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

fn rjust(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

fn print_help() {
    println!(
        "\nCQL statements go to the server (end them with ';'). Shell commands:\n\
         ==============================================================\n\
         CONSISTENCY [level]         SERIAL CONSISTENCY [level]\n\
         PAGING [ON|OFF|n]           EXPAND [ON|OFF]\n\
         DESCRIBE ...                SOURCE 'file'\n\
         SHOW VERSION | HOST         USE keyspace\n\
         EXIT | QUIT                 HELP\n"
    );
}

fn on_off(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

fn parse_switch(word: &str) -> Option<bool> {
    match word.to_ascii_uppercase().as_str() {
        "ON" => Some(true),
        "OFF" => Some(false),
        _ => None,
    }
}

/// cqlsh's `on_off_switch`: says what changed (or that nothing did) and returns the new state.
fn switch_to(name: &str, current: bool, on: bool) -> bool {
    if current == on {
        println!("{name} is already {}", on_off(on));
    } else {
        println!("{name} set to {}", on_off(on));
    }
    on
}

pub(crate) fn parse_consistency(level: &str) -> Option<Consistency> {
    Some(match level.to_ascii_uppercase().as_str() {
        "ANY" => Consistency::Any,
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "EACH_QUORUM" => Consistency::EachQuorum,
        "SERIAL" => Consistency::Serial,
        "LOCAL_SERIAL" => Consistency::LocalSerial,
        "LOCAL_ONE" => Consistency::LocalOne,
        _ => return None,
    })
}

pub(crate) fn consistency_name(c: Consistency) -> &'static str {
    match c {
        Consistency::Any => "ANY",
        Consistency::One => "ONE",
        Consistency::Two => "TWO",
        Consistency::Three => "THREE",
        Consistency::Quorum => "QUORUM",
        Consistency::All => "ALL",
        Consistency::LocalQuorum => "LOCAL_QUORUM",
        Consistency::EachQuorum => "EACH_QUORUM",
        Consistency::Serial => "SERIAL",
        Consistency::LocalSerial => "LOCAL_SERIAL",
        Consistency::LocalOne => "LOCAL_ONE",
    }
}

/// A keyspace name as `USE` takes it: `"Quoted"` keeps its case, anything else is lower-cased.
fn unquote_name(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_ascii_lowercase(),
    }
}

/// The content of a `'single-quoted'` CQL string (`''` is a quote).
fn unquote_string(s: &str) -> Option<String> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// The server error inside an execution error, with the server's message.
fn db_error(err: &ExecutionError) -> Option<(&DbError, &str)> {
    let attempt = match err {
        ExecutionError::LastAttemptError(attempt) => attempt,
        ExecutionError::PrepareError(PrepareError::AllAttemptsFailed { first_attempt }) => {
            first_attempt
        }
        _ => return None,
    };
    match attempt {
        RequestAttemptError::DbError(db, message) => Some((db, message.as_str())),
        _ => None,
    }
}

/// The python driver's exception class, Cassandra's error code and the driver's summary, for a
/// server error (what cqlsh users know them by).
fn error_class(err: &DbError) -> (&'static str, i32, &'static str) {
    match err {
        DbError::ServerError => ("ServerError", 0x0000, "Server error"),
        DbError::ProtocolError => ("ProtocolException", 0x000A, "Protocol error"),
        DbError::AuthenticationError => ("AuthenticationFailed", 0x0100, "Bad credentials"),
        DbError::Unavailable { .. } => ("Unavailable", 0x1000, "Unavailable exception"),
        DbError::Overloaded => (
            "OverloadedErrorMessage",
            0x1001,
            "Coordinator node overloaded",
        ),
        DbError::IsBootstrapping => (
            "IsBootstrappingErrorMessage",
            0x1002,
            "Coordinator node is bootstrapping",
        ),
        DbError::TruncateError => ("TruncateError", 0x1003, "Error during truncate"),
        DbError::WriteTimeout { .. } => (
            "WriteTimeout",
            0x1100,
            "Coordinator node timed out waiting for replica nodes' responses",
        ),
        DbError::ReadTimeout { .. } => (
            "ReadTimeout",
            0x1200,
            "Coordinator node timed out waiting for replica nodes' responses",
        ),
        DbError::ReadFailure { .. } => ("ReadFailure", 0x1300, "Replica(s) failed to execute read"),
        DbError::FunctionFailure { .. } => {
            ("FunctionFailure", 0x1400, "User Defined Function failure")
        }
        DbError::WriteFailure { .. } => {
            ("WriteFailure", 0x1500, "Replica(s) failed to execute write")
        }
        DbError::SyntaxError => ("SyntaxException", 0x2000, "Syntax error in CQL query"),
        DbError::Unauthorized => ("Unauthorized", 0x2100, "Unauthorized"),
        DbError::Invalid => ("InvalidRequest", 0x2200, "Invalid query"),
        DbError::ConfigError => (
            "ConfigurationException",
            0x2300,
            "Query invalid because of configuration issue",
        ),
        DbError::AlreadyExists { .. } => ("AlreadyExists", 0x2400, "Item already exists"),
        DbError::Unprepared { .. } => (
            "PreparedQueryNotFound",
            0x2500,
            "Matching prepared statement not found on this node",
        ),
        DbError::Other(code) => ("ErrorMessage", *code, "Unknown"),
        _ => ("ErrorMessage", -1, "Unknown"),
    }
}

/// A class name for a failure on the client's side (no server error).
fn client_error_class(err: &ExecutionError) -> &'static str {
    match err {
        ExecutionError::RequestTimeout(_) => "OperationTimedOut",
        ExecutionError::ConnectionPoolError(_) | ExecutionError::EmptyPlan => "NoHostAvailable",
        ExecutionError::BadQuery(_) => "InvalidRequest",
        _ => "DriverException",
    }
}

/// Splits text into statements as it arrives, line by line (see the module docs).
#[derive(Debug, Default)]
struct Splitter {
    /// The current statement's text so far, comments blanked.
    buf: String,
    state: LexState,
    /// The current statement's tokens so far: words upper-cased, punctuation as itself.
    tokens: Vec<String>,
    /// The word being read.
    word: String,
    line: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum LexState {
    #[default]
    Normal,
    Single,
    Double,
    Dollar,
    LineComment,
    BlockComment,
}

impl Splitter {
    /// Whether an unfinished statement is pending.
    fn pending(&self) -> bool {
        !self.buf.trim().is_empty() || self.state != LexState::Normal
    }

    /// Adds `line` (with its newline, if any), the `line_no`th of its source; the statements
    /// it completes, each with the number of the line it ends on.
    fn push(&mut self, line: &str, line_no: usize) -> Vec<(String, usize)> {
        self.line = line_no;
        let mut done = Vec::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match self.state {
                LexState::Normal => match c {
                    '\'' => {
                        self.end_word();
                        self.state = LexState::Single;
                        self.buf.push(c);
                        self.tokens.push("'".to_owned());
                    }
                    '"' => {
                        self.end_word();
                        self.state = LexState::Double;
                        self.buf.push(c);
                        self.tokens.push("\"".to_owned());
                    }
                    '$' if next == Some('$') => {
                        self.end_word();
                        self.state = LexState::Dollar;
                        self.buf.push_str("$$");
                        self.tokens.push("$$".to_owned());
                        i += 1;
                    }
                    '-' if next == Some('-') => {
                        self.end_word();
                        self.state = LexState::LineComment;
                        self.buf.push_str("  ");
                        i += 1;
                    }
                    '/' if next == Some('/') => {
                        self.end_word();
                        self.state = LexState::LineComment;
                        self.buf.push_str("  ");
                        i += 1;
                    }
                    '/' if next == Some('*') => {
                        self.end_word();
                        self.state = LexState::BlockComment;
                        self.buf.push_str("  ");
                        i += 1;
                    }
                    ';' => {
                        self.end_word();
                        self.buf.push(';');
                        let in_batch = self.tokens.first().is_some_and(|t| t == "BEGIN");
                        let applied = self.tokens.len() >= 2
                            && self.tokens[self.tokens.len() - 2] == "APPLY"
                            && self.tokens[self.tokens.len() - 1] == "BATCH";
                        if !in_batch || applied {
                            self.finish_statement(&mut done);
                        } else {
                            self.tokens.push(";".to_owned());
                        }
                    }
                    '\n' => {
                        self.end_word();
                        if self.is_line_command() {
                            self.finish_statement(&mut done);
                        } else {
                            self.buf.push('\n');
                        }
                    }
                    c if c.is_alphanumeric() || c == '_' => {
                        self.word.push(c);
                        self.buf.push(c);
                    }
                    c if c.is_whitespace() => {
                        self.end_word();
                        self.buf.push(c);
                    }
                    c => {
                        self.end_word();
                        self.buf.push(c);
                        self.tokens.push(c.to_string());
                    }
                },
                LexState::Single | LexState::Double => {
                    let quote = if self.state == LexState::Single {
                        '\''
                    } else {
                        '"'
                    };
                    self.buf.push(c);
                    if c == quote {
                        if next == Some(quote) {
                            self.buf.push(quote);
                            i += 1;
                        } else {
                            self.state = LexState::Normal;
                        }
                    }
                }
                LexState::Dollar => {
                    if c == '$' && next == Some('$') {
                        self.buf.push_str("$$");
                        self.state = LexState::Normal;
                        i += 1;
                    } else {
                        self.buf.push(c);
                    }
                }
                LexState::LineComment => {
                    if c == '\n' {
                        self.state = LexState::Normal;
                        // The newline itself may end a shell command.
                        continue;
                    }
                    self.buf.push(if c == '\t' { '\t' } else { ' ' });
                }
                LexState::BlockComment => {
                    if c == '*' && next == Some('/') {
                        self.buf.push_str("  ");
                        self.state = LexState::Normal;
                        i += 1;
                    } else {
                        self.buf.push(if c == '\n' { '\n' } else { ' ' });
                    }
                }
            }
            i += 1;
        }
        done
    }

    /// At the end of the input: a shell command on the last line (which had no newline) ends
    /// there.
    fn finish_line(&mut self) -> Option<(String, usize)> {
        self.end_word();
        if self.state == LexState::LineComment {
            self.state = LexState::Normal;
        }
        if self.state == LexState::Normal && self.is_line_command() {
            let mut done = Vec::new();
            self.finish_statement(&mut done);
            return done.pop();
        }
        None
    }

    fn is_line_command(&self) -> bool {
        self.tokens
            .first()
            .is_some_and(|t| LINE_COMMANDS.contains(&t.as_str()) || t == "QUIT")
    }

    fn end_word(&mut self) {
        if !self.word.is_empty() {
            let word = std::mem::take(&mut self.word).to_uppercase();
            self.tokens.push(word);
        }
    }

    fn finish_statement(&mut self, done: &mut Vec<(String, usize)>) {
        let text = std::mem::take(&mut self.buf);
        self.tokens.clear();
        let text = text.trim();
        if !text.is_empty() && text != ";" {
            done.push((text.to_owned(), self.line));
        }
    }
}

/// A value as cqlsh prints it; `quote`: inside a collection (text, timestamps and inets are
/// quoted there).
fn format_value(value: Option<&CqlValue>, typ: &ColumnType<'_>, quote: bool) -> String {
    let Some(value) = value else {
        return "null".to_owned();
    };
    match value {
        CqlValue::Ascii(s) | CqlValue::Text(s) => format_text(s, quote),
        CqlValue::Boolean(b) => if *b { "True" } else { "False" }.to_owned(),
        CqlValue::Blob(b) => format_blob(b),
        CqlValue::Counter(c) => c.0.to_string(),
        CqlValue::Decimal(d) => {
            let (bytes, scale) = d.as_signed_be_bytes_slice_and_exponent();
            format_decimal(&num_bigint::BigInt::from_signed_bytes_be(bytes), scale)
        }
        CqlValue::Date(d) => format_date(d.0),
        CqlValue::Double(f) => format_float(*f),
        CqlValue::Float(f) => format_float(f64::from(*f)),
        CqlValue::Duration(d) => format_duration(d.months, d.days, d.nanoseconds),
        CqlValue::Empty => String::new(),
        CqlValue::Int(i) => i.to_string(),
        CqlValue::BigInt(i) => i.to_string(),
        CqlValue::SmallInt(i) => i.to_string(),
        CqlValue::TinyInt(i) => i.to_string(),
        CqlValue::Varint(v) => {
            num_bigint::BigInt::from_signed_bytes_be(v.as_signed_bytes_be_slice()).to_string()
        }
        CqlValue::Timestamp(t) => {
            let s = format_timestamp(t.0);
            if quote {
                format!("'{s}'")
            } else {
                s
            }
        }
        CqlValue::Time(t) => format_time(t.0),
        CqlValue::Inet(ip) => {
            if quote {
                format!("'{ip}'")
            } else {
                ip.to_string()
            }
        }
        CqlValue::Uuid(u) => u.to_string(),
        CqlValue::Timeuuid(u) => u.to_string(),
        CqlValue::List(items) => {
            let element = element_type(typ, 0);
            format!("[{}]", join_values(items.iter(), &element))
        }
        CqlValue::Set(items) => {
            let element = element_type(typ, 0);
            format!("{{{}}}", join_values(items.iter(), &element))
        }
        CqlValue::Map(entries) => {
            let (key_type, value_type) = (element_type(typ, 0), element_type(typ, 1));
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        format_value(Some(k), &key_type, true),
                        format_value(Some(v), &value_type, true)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        CqlValue::Tuple(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(i, v)| format_value(v.as_ref(), &element_type(typ, i), true))
                .collect();
            format!("({})", parts.join(", "))
        }
        CqlValue::UserDefinedType { fields, .. } => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(name, v)| {
                    format!(
                        "{}: {}",
                        format_text(name, false),
                        format_value(v.as_ref(), &ColumnType::Native(NativeType::Text), true)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        CqlValue::Vector(items) => {
            let element = element_type(typ, 0);
            format!("[{}]", join_values(items.iter(), &element))
        }
        _ => format!("{value:?}"),
    }
}

fn join_values<'a>(items: impl Iterator<Item = &'a CqlValue>, typ: &ColumnType<'_>) -> String {
    items
        .map(|v| format_value(Some(v), typ, true))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `i`th element type of a collection or tuple type (text when unknown: only quoting
/// depends on it, and the value itself says its type).
fn element_type(typ: &ColumnType<'_>, i: usize) -> ColumnType<'static> {
    let found = match typ {
        ColumnType::Collection { typ, .. } => match (typ, i) {
            (CollectionType::List(t) | CollectionType::Set(t), 0) => Some(t.as_ref()),
            (CollectionType::Map(k, _), 0) => Some(k.as_ref()),
            (CollectionType::Map(_, v), 1) => Some(v.as_ref()),
            _ => None,
        },
        ColumnType::Tuple(types) => types.get(i),
        ColumnType::Vector { typ, .. } => Some(typ.as_ref()),
        _ => None,
    };
    found
        .cloned()
        .map(ColumnType::into_owned)
        .unwrap_or(ColumnType::Native(NativeType::Text))
}

/// Text as cqlsh prints it: backslashes doubled, control characters escaped as Python's
/// `repr` shows them; in a collection, quoted with `'` doubled.
fn format_text(s: &str, quote: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    if quote {
        out.push('\'');
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' if quote => out.push_str("''"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    if quote {
        out.push('\'');
    }
    out
}

fn format_blob(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A decimal (unscaled × 10^-scale) as Python's `str(Decimal)`: plain digits unless the
/// exponent is positive or the number is smaller than 1E-6, then scientific (`1.5E+3`).
fn format_decimal(unscaled: &num_bigint::BigInt, scale: i32) -> String {
    let negative = unscaled.sign() == num_bigint::Sign::Minus;
    let digits = unscaled.magnitude().to_string();
    let exponent = -i64::from(scale);
    let len = digits.len() as i64;
    let adjusted = exponent + len - 1;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if exponent <= 0 && adjusted >= -6 {
        if exponent == 0 {
            out.push_str(&digits);
        } else if len > -exponent {
            let point = (len + exponent) as usize;
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        } else {
            out.push_str("0.");
            out.push_str(&"0".repeat((-exponent - len) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "E{}{adjusted}", if adjusted >= 0 { "+" } else { "" });
    }
    out
}

/// A float or double as cqlsh prints it (`format_floating_point_type` with precision 5).
fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let mut precision = FLOAT_PRECISION as i64;
    if v.abs() > f64::EPSILON {
        // Python's int() truncates toward zero.
        let exponent = v.abs().log10().trunc() as i64;
        if (-4..precision).contains(&exponent) {
            precision += exponent + 1;
        }
    }
    format_g(v, precision.max(1) as usize)
}

/// C's `%.*g`.
fn format_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i64 {
        let mantissa = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (precision as i64 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{v:.decimals$}")).to_owned()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A timestamp (ms since the epoch) as cqlsh prints it in UTC:
/// `2024-01-31 10:00:00.000000+0000`; outside years 1-9999, the milliseconds.
fn format_timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    if !(1..=9999).contains(&y) {
        return ms.to_string();
    }
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}+0000",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        millis * 1000
    )
}

/// A date (days with the epoch at 2^31) as cqlsh prints it: `2024-01-31`; outside years
/// 1-9999, the days since the epoch.
fn format_date(raw: u32) -> String {
    let days = i64::from(raw) - (1 << 31);
    let (y, m, d) = civil_from_days(days);
    if (1..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        days.to_string()
    }
}

/// A time (ns since midnight) as cqlsh prints it: `10:00:00.000000000`.
fn format_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        ns.rem_euclid(1_000_000_000)
    )
}

/// A duration as cqlsh prints it (`1y2mo3d4h5m6s7ms8us9ns`).
fn format_duration(months: i32, days: i32, nanos: i64) -> String {
    fn append(out: &mut String, dividend: i64, divisor: i64, unit: &str) -> i64 {
        if dividend == 0 || dividend < divisor {
            return dividend;
        }
        let _ = write!(out, "{}{unit}", dividend / divisor);
        dividend % divisor
    }
    let mut out = String::new();
    if months < 0 || days < 0 || nanos < 0 {
        out.push('-');
    }
    let months = i64::from(months).abs();
    let rest = append(&mut out, months, 12, "y");
    append(&mut out, rest, 1, "mo");
    append(&mut out, i64::from(days).abs(), 1, "d");
    if nanos != 0 {
        let mut rest = nanos.abs();
        for (divisor, unit) in [
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ] {
            rest = append(&mut out, rest, divisor, unit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<(String, usize)> {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for (i, line) in text.split_inclusive('\n').enumerate() {
            out.extend(s.push(line, i + 1));
        }
        out.extend(s.finish_line());
        out
    }

    #[test]
    fn statements_end_at_semicolons_outside_strings_names_and_comments() {
        let text = "-- a comment; not a statement\n\
                    SELECT 'a;b', \"c;\"\"d\" FROM t; INSERT INTO t (k) VALUES ($$x;y$$);\n\
                    /* block ; \n still */ UPDATE t\n  SET v = 1 // trailing ;\n  WHERE k = 1;\n";
        let got = split(text);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], ("SELECT 'a;b', \"c;\"\"d\" FROM t;".to_owned(), 2));
        assert_eq!(
            got[1],
            ("INSERT INTO t (k) VALUES ($$x;y$$);".to_owned(), 2)
        );
        assert_eq!(
            got[2].0,
            format!("UPDATE t\n  SET v = 1{}\n  WHERE k = 1;", " ".repeat(14))
        );
        assert_eq!(got[2].1, 6);
    }

    #[test]
    fn a_batch_is_one_statement() {
        let got = split(
            "BEGIN BATCH\nINSERT INTO t (k) VALUES (1);\nDELETE FROM t WHERE k = 2;\nAPPLY BATCH;\nSELECT * FROM t;",
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].0.starts_with("BEGIN BATCH") && got[0].0.ends_with("APPLY BATCH;"));
        assert_eq!(got[0].1, 4);
        assert_eq!(got[1], ("SELECT * FROM t;".to_owned(), 5));
        let mut s = Splitter::default();
        s.push("SELECT * FROM t", 1);
        assert!(s.pending());
    }

    #[test]
    fn shell_commands_also_end_at_the_end_of_their_line() {
        let got = split("consistency quorum\nPAGING 50\nexpand on;\nSELECT *\nFROM t;\nEXIT");
        let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "consistency quorum",
                "PAGING 50",
                "expand on;",
                "SELECT *\nFROM t;",
                "EXIT"
            ]
        );
    }

    #[test]
    fn values_as_cqlsh_prints_them() {
        let text = ColumnType::Native(NativeType::Text);
        assert_eq!(format_value(None, &text, false), "null");
        assert_eq!(
            format_value(Some(&CqlValue::Text("it's\n".into())), &text, false),
            "it's\\n"
        );
        assert_eq!(
            format_value(Some(&CqlValue::Text("it's".into())), &text, true),
            "'it''s'"
        );
        assert_eq!(format_blob(&[0xca, 0xfe]), "0xcafe");
        assert_eq!(format_blob(&[]), "0x");
        assert_eq!(
            format_timestamp(1_706_695_200_000),
            "2024-01-31 10:00:00.000000+0000"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59.999000+0000");
        assert_eq!(format_date((1u32 << 31) + 19_753), "2024-01-31");
        assert_eq!(format_date(0), "-2147483648");
        assert_eq!(format_time(36_000_000_000_001), "10:00:00.000000001");
        let map = CqlValue::Map(vec![(CqlValue::Text("a".into()), CqlValue::Int(1))]);
        assert_eq!(format_value(Some(&map), &text, false), "{'a': 1}");
        let list = CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)]);
        assert_eq!(format_value(Some(&list), &text, false), "[1, 2]");
        let tuple = CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None]);
        assert_eq!(format_value(Some(&tuple), &text, false), "(1, null)");
        assert_eq!(
            format_value(Some(&CqlValue::Boolean(true)), &text, false),
            "True"
        );
        assert_eq!(
            format_duration(14, 3, 3_723_000_000_004),
            "1y2mo3d1h2m3s4ns"
        );
    }

    #[test]
    fn floats_and_decimals_as_python_prints_them() {
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(f64::from(1.1f32)), "1.1");
        assert_eq!(format_float(std::f64::consts::PI), "3.14159");
        assert_eq!(format_float(123.456), "123.456");
        assert_eq!(format_float(0.001), "0.001");
        assert_eq!(format_float(1e10), "1e+10");
        assert_eq!(format_float(123_456.0), "1.2346e+05");
        assert_eq!(format_float(-2.0), "-2");
        assert_eq!(format_float(0.0), "0");
        assert_eq!(format_float(1e-7), "1e-07");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Infinity");
        let d = |v: i64, scale| format_decimal(&num_bigint::BigInt::from(v), scale);
        assert_eq!(d(12345, 2), "123.45");
        assert_eq!(d(-5, 3), "-0.005");
        assert_eq!(d(15, -2), "1.5E+3");
        assert_eq!(d(1, 7), "1E-7");
        assert_eq!(d(0, 0), "0");
        assert_eq!(d(100, 0), "100");
    }

    #[test]
    fn columnize_as_python_cmd() {
        let names: Vec<String> = ["system", "system_schema", "ks"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(columnize_text(&names, 80), "system  system_schema  ks\n");
        let many: Vec<String> = (0..30).map(|i| format!("keyspace_{i:02}")).collect();
        let text = columnize_text(&many, 80);
        assert!(text.lines().all(|l| l.len() <= 80), "{text}");
        assert_eq!(
            text.lines().next(),
            Some("keyspace_00  keyspace_05  keyspace_10  keyspace_15  keyspace_20  keyspace_25")
        );
        assert_eq!(columnize_text(&[], 80), "<empty>\n");
    }

    #[test]
    fn names_and_strings() {
        assert_eq!(unquote_name("MyKs"), "myks");
        assert_eq!(unquote_name("\"MyKs\""), "MyKs");
        assert_eq!(unquote_string("'a''b.cql'").as_deref(), Some("a'b.cql"));
        assert_eq!(unquote_string("a.cql"), None);
        assert_eq!(
            parse_consistency("local_quorum"),
            Some(Consistency::LocalQuorum)
        );
        assert_eq!(parse_consistency("NONE"), None);
    }
}
