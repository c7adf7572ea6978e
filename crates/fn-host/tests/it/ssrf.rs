//! The SSRF corpus (`ssrf.json`): every case a URL, the function's rules (the corpus's
//! default allows any host on any port, so that only the address guard decides), the
//! operator's allowed ranges, and what the guard must answer. Names resolve through
//! the corpus's own table, so that names resolving to private addresses are tested
//! without a DNS server.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;

use async_trait::async_trait;
use fn_core::OutboundRule;
use fn_host::{Guard, Refused, Resolve};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    resolver: BTreeMap<String, Vec<IpAddr>>,
    default_rules: Vec<OutboundRule>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    url: String,
    expect: String,
    note: String,
    rules: Option<Vec<OutboundRule>>,
    #[serde(default)]
    ranges: Vec<ipnet::IpNet>,
}

#[derive(Debug)]
struct Table(BTreeMap<String, Vec<IpAddr>>);

#[async_trait]
impl Resolve for Table {
    async fn resolve(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such name"))
    }
}

fn corpus() -> Corpus {
    serde_json::from_str(include_str!("ssrf.json")).expect("the corpus parses")
}

#[tokio::test]
async fn every_case_of_the_corpus_gets_the_answer_it_expects() {
    let corpus = corpus();
    assert!(corpus.cases.len() >= 60, "the issue asks for at least 60");
    let resolver = Table(corpus.resolver);
    let mut wrong = Vec::new();
    for case in &corpus.cases {
        let rules = case.rules.as_ref().unwrap_or(&corpus.default_rules);
        let guard = Guard::new(case.ranges.clone());
        let answer = match case.url.parse::<http::Uri>() {
            // A URL wasi:http cannot even parse never reaches the guard: refused too.
            Err(_) => "invalid",
            Ok(uri) => match guard.vet(rules, &uri, &resolver).await {
                Ok(_) => "allowed",
                Err(Refused::InvalidUri(_)) => "invalid",
                Err(Refused::NotAllowed { .. }) => "not-allowed",
                Err(Refused::Prohibited { .. }) => "prohibited",
                Err(Refused::Dns { .. }) => "dns",
            },
        };
        if answer != case.expect {
            wrong.push(format!(
                "{} ({}): expected {}, got {answer}",
                case.url, case.note, case.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_refusal_names_the_address_and_its_range() {
    let corpus = corpus();
    let uri = "http://metadata.google.internal/computeMetadata/v1/"
        .parse()
        .unwrap();
    let refused = Guard::default()
        .vet(&corpus.default_rules, &uri, &Table(corpus.resolver))
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "169.254.169.254 is a link-local (cloud metadata) address, which functions may not reach"
    );
}

#[tokio::test]
async fn the_addresses_vetted_are_every_one_resolved_with_the_port() {
    let resolver = Table(BTreeMap::from([(
        "two.example.com".to_owned(),
        vec![
            "93.184.215.14".parse().unwrap(),
            "2606:4700::1111".parse().unwrap(),
        ],
    )]));
    let rules = ["https://two.example.com:8443".parse().unwrap()];
    let uri = "https://two.example.com:8443/x".parse().unwrap();
    let vetted = Guard::default().vet(&rules, &uri, &resolver).await.unwrap();
    assert_eq!(
        vetted.addresses,
        [
            "93.184.215.14:8443".parse().unwrap(),
            "[2606:4700::1111]:8443".parse().unwrap()
        ]
    );
}
