//! Helpers of the tests: suites made in a temporary folder.

use std::path::{Path, PathBuf};

use fn_conformance::{CaseReport, Expectations, Report, Runner};
use serde_json::json;

pub(crate) fn guest(name: &str) -> PathBuf {
    fn_guests::path(name)
}

/// A suite folder being written.
pub(crate) struct SuiteDir {
    _tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
}

impl SuiteDir {
    pub(crate) fn new(name: &str) -> SuiteDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("suite");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("manifest.json"),
            json!({ "name": name }).to_string(),
        )
        .unwrap();
        SuiteDir { _tmp: tmp, dir }
    }

    pub(crate) fn case(&self, name: &str, spec: serde_json::Value) -> &SuiteDir {
        std::fs::write(self.dir.join(format!("{name}.json")), spec.to_string()).unwrap();
        self
    }

    pub(crate) fn file(&self, path: &str, contents: impl AsRef<[u8]>) -> &SuiteDir {
        let path = self.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    pub(crate) async fn run(&self, expectations: &str) -> Report {
        let work = self.dir.parent().unwrap().join("work");
        Runner::new(Expectations::parse(expectations).unwrap(), work)
            .run(std::slice::from_ref(&self.dir))
            .await
            .expect("the runner runs")
    }
}

pub(crate) fn case<'r>(report: &'r Report, name: &str) -> &'r CaseReport {
    report.suites[0]
        .cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case `{name}` in {report:#?}"))
}

pub(crate) fn module(path: &Path) -> String {
    path.display().to_string()
}
