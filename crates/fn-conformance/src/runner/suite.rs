//! One suite's run: its engine on an in-memory store, and each case set up (its
//! definition, its fresh root folder, its module, made a component on the second pass),
//! deployed and run once through `Engine::execute_detailed`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fn_core::{CompileWorker, Error, FunctionDefinition, InvocationContext, MemoryLogger, Preopen};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;

use super::{DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT, GRACE, NAMESPACE, function_name};
use crate::fresh;
use crate::judge::{Observed, exit_code, judge};
use crate::report::{CaseReport, Verdict};
use crate::spec::{self, CaseSpec, Manifest};

/// A suite ready to run: its engine, registry and records.
pub(super) struct Suite {
    dir: PathBuf,
    work: PathBuf,
    pub(super) manifest: Manifest,
    max_module_bytes: u64,
    engine: Engine,
    registry: Arc<InMemoryRegistry>,
    records: Arc<MemoryLogger>,
    /// Whether each case is made a component before it is deployed.
    pub(super) as_components: bool,
}

impl Suite {
    pub(super) fn open(
        dir: &Path,
        work: &Path,
        variant: Option<&str>,
        worker: Option<&CompileWorker>,
    ) -> anyhow::Result<Suite> {
        let manifest = Manifest::load(dir)?;
        std::fs::create_dir_all(work)?;
        let work = work.canonicalize()?;
        let mut config = manifest.engine_config(variant)?;
        if config.compile_worker.is_none() {
            config.compile_worker = worker.cloned();
        }
        config.log_invocations = true;
        config.preopen_roots = vec![work.clone()];
        let max_module_bytes = config.max_module_bytes;
        let registry = Arc::new(InMemoryRegistry::new());
        let records = Arc::new(MemoryLogger::new());
        let engine = Engine::builder(registry.clone())
            .config(config)
            .invocation_logger(records.clone())
            .build()?;
        Ok(Suite {
            dir: dir.to_path_buf(),
            work,
            manifest,
            max_module_bytes,
            engine,
            registry,
            records,
            as_components: false,
        })
    }

    pub(super) async fn run_case(&self, name: &str) -> CaseReport {
        let started = Instant::now();
        let mut report = CaseReport {
            name: name.to_string(),
            verdict: Verdict::Fail,
            problems: vec![],
            expected_reason: None,
            exit_code: None,
            error_kind: None,
            error: None,
            duration_ms: 0.0,
        };
        match self.observe(name).await {
            Ok((spec, observed)) => {
                report.problems = judge(&spec, &observed);
                let error = observed.error();
                report.exit_code = exit_code(observed.result());
                report.error_kind = error.map(Error::kind);
                report.error = error.map(ToString::to_string);
            }
            Err(problem) => report.problems.push(problem),
        }
        report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        report
    }

    /// Sets the case up and runs it. An `Err` is a case that could not be run (a bad
    /// specification, a missing module): a failed case, never a failed runner.
    async fn observe(&self, name: &str) -> Result<(CaseSpec, Observed), String> {
        let json = self.dir.join(format!("{name}.json"));
        let spec = if json.is_file() {
            CaseSpec::load(&json).map_err(|e| format!("{e:#}"))?
        } else {
            CaseSpec::default()
        };
        let module_path = match &spec.module {
            Some(module) => self.dir.join(module),
            None => self.dir.join(format!("{name}.wasm")),
        };
        let mut bytes = spec::read_bounded(&module_path, self.max_module_bytes)
            .map_err(|e| format!("the module cannot be read: {e:#}"))?;
        if self.as_components {
            bytes = crate::componentize::componentize(&bytes)
                .map_err(|e| format!("the module cannot be made a component: {e:#}"))?;
        }
        let input = Bytes::from(spec.input_bytes());

        let mut definition = FunctionDefinition::new(NAMESPACE, function_name(name));
        definition.args.clone_from(&spec.args);
        definition.env.clone_from(&spec.env);
        definition.timeout = spec
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        definition.max_memory_bytes = spec.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB) << 20;
        if let Some(root) = &spec.root {
            let source = self.dir.join(root);
            if !source.is_dir() {
                return Err(format!("the root folder {} is missing", source.display()));
            }
            let copy = self.work.join(name).join("root");
            if copy.exists() {
                std::fs::remove_dir_all(&copy)
                    .map_err(|e| format!("{} cannot be emptied: {e}", copy.display()))?;
            }
            fresh::copy_tree(&source, &copy)
                .map_err(|e| format!("the root folder cannot be copied: {e}"))?;
            definition.preopens.push(Preopen {
                host: copy,
                guest: "/".into(),
                writable: true,
            });
        }

        let mut observed = Observed {
            execution: None,
            deploy_error: None,
            records: vec![],
            function: None,
            input_size: input.len() as u64,
        };
        let deployed = self
            .engine
            .deploy(self.registry.as_ref(), definition, Bytes::from(bytes))
            .await;
        let function = match deployed {
            Ok(function) => function,
            Err(error) => {
                observed.deploy_error = Some(error);
                return Ok((spec, observed));
            }
        };
        let ctx = InvocationContext::default();
        let request_id = ctx.request_id.clone();
        let limit = function.definition.timeout + GRACE;
        // On a task of its own, so that a panic anywhere below is this case's failure.
        let engine = self.engine.clone();
        let mut task = {
            let function = function.clone();
            tokio::spawn(async move { engine.execute_detailed(&function, input, Some(ctx)).await })
        };
        let execution = match tokio::time::timeout(limit, &mut task).await {
            Ok(Ok(execution)) => execution,
            Ok(Err(join_error)) => {
                return Err(format!(
                    "the engine panicked running the case: {join_error}"
                ));
            }
            Err(_) => {
                task.abort();
                return Err(format!(
                    "the engine did not return within {} s; the runner gave up on it",
                    limit.as_secs()
                ));
            }
        };
        observed.execution = Some(execution);
        observed.records = self.records.take(&request_id);
        observed.function = Some(function);
        Ok((spec, observed))
    }
}
