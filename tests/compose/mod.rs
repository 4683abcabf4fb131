//! docker/compose.yaml and docker/Dockerfile as tests/docker_compose.rs
//! reads them: the compose keys it knows how to run (any other key fails
//! the parse, so nothing in the file goes unexercised), and the image's
//! entrypoint and volumes.

pub mod process;
pub mod rewrite;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    #[allow(dead_code)] // the project name changes nothing a local run sees
    pub name: String,
    pub services: BTreeMap<String, Service>,
    pub volumes: BTreeMap<String, serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: String,
    #[serde(default)]
    pub build: Option<Build>,
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)] // host publication: nothing on the compose network
    pub ports: Vec<String>,
    #[serde(default)]
    pub depends_on: BTreeMap<String, DependsOn>,
    #[serde(default)]
    pub healthcheck: Option<Healthcheck>,
    #[serde(default)]
    pub networks: BTreeMap<String, Network>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    pub context: String,
    pub dockerfile: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependsOn {
    pub condition: Condition,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    #[serde(rename = "service_started")]
    Started,
    #[serde(rename = "service_healthy")]
    Healthy,
    #[serde(rename = "service_completed_successfully")]
    CompletedSuccessfully,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub disable: bool,
    /// Docker's pacing; the test polls until its own deadline instead.
    #[serde(default)]
    #[allow(dead_code)]
    pub interval: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub timeout: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    pub retries: Option<u32>,
    #[serde(default)]
    #[allow(dead_code)]
    pub start_period: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// One `volumes:` entry of a service: a named volume or a file of docker/.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Volume(String),
    Bind(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub source: Source,
    pub target: String,
    pub read_only: bool,
}

impl Compose {
    /// docker/compose.yaml with its anchors and merge keys (`<<`) resolved
    /// and its extension keys (`x-...`) dropped, as compose does.
    pub fn load() -> Self {
        let path = docker_dir().join("compose.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut value: serde_norway::Value = serde_norway::from_str(&text).expect("compose.yaml is YAML");
        value.apply_merge().expect("compose.yaml's merge keys");
        if let Some(top) = value.as_mapping_mut() {
            top.retain(|key, _| !key.as_str().is_some_and(|k| k.starts_with("x-")));
        }
        serde_norway::from_value(value).expect("compose.yaml has only the keys tests/compose knows")
    }

    /// The services in an order compose may start them: each after every
    /// service it depends on.
    pub fn start_order(&self) -> Vec<&str> {
        let mut order: Vec<&str> = Vec::new();
        while order.len() < self.services.len() {
            let before = order.len();
            for (name, service) in &self.services {
                let ready = service.depends_on.keys().all(|dep| order.contains(&dep.as_str()));
                if !order.contains(&name.as_str()) && ready {
                    order.push(name);
                }
            }
            assert!(order.len() > before, "compose.yaml's depends_on has a cycle or an unknown service");
        }
        order
    }

    /// Whether another service waits for `name` to exit successfully.
    pub fn is_one_shot(&self, name: &str) -> bool {
        self.services
            .values()
            .any(|s| s.depends_on.get(name).is_some_and(|d| d.condition == Condition::CompletedSuccessfully))
    }

    /// Which service answers to `host` on the compose network, when only one
    /// does (a name several share, such as the responders' `ocsp`, is DNS
    /// round robin: not one address).
    pub fn service_of_host(&self, host: &str) -> Option<&str> {
        let owners: Vec<&str> = self
            .services
            .iter()
            .filter(|(name, s)| {
                *name == host || s.networks.values().any(|n| n.aliases.iter().any(|a| a == host))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        match owners.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Every host name of the compose network (service names and aliases).
    pub fn host_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.services.keys().cloned().collect();
        for service in self.services.values() {
            names.extend(service.networks.values().flat_map(|n| n.aliases.iter().cloned()));
        }
        names.sort();
        names.dedup();
        names
    }
}

impl Service {
    pub fn mounts(&self) -> Vec<Mount> {
        self.volumes
            .iter()
            .map(|spec| {
                let parts: Vec<&str> = spec.split(':').collect();
                let (source, target, read_only) = match parts.as_slice() {
                    [source, target] => (*source, *target, false),
                    [source, target, "ro"] => (*source, *target, true),
                    _ => panic!("volume {spec:?}: expected SOURCE:TARGET[:ro]"),
                };
                let source = match source.strip_prefix("./") {
                    Some(file) => Source::Bind(docker_dir().join(file)),
                    None => Source::Volume(source.to_owned()),
                };
                Mount { source, target: target.to_owned(), read_only }
            })
            .collect()
    }

    /// Whether this service runs the image docker/Dockerfile builds.
    pub fn is_cartorio(&self) -> bool {
        self.build.is_some()
    }

    /// The health check's command line (`CMD` form), unless disabled.
    pub fn health_command(&self) -> Option<&[String]> {
        let check = self.healthcheck.as_ref().filter(|h| !h.disable)?;
        match check.test.split_first() {
            Some((form, argv)) if form == "CMD" && !argv.is_empty() => Some(argv),
            _ => panic!("health check {:?}: only the [\"CMD\", ...] form is run by the test", check.test),
        }
    }
}

/// What docker/Dockerfile's runtime stage says: its entrypoint, its user
/// and the volumes it declares.
#[derive(Debug)]
pub struct Image {
    pub entrypoint: Vec<String>,
    pub user: String,
    pub volumes: Vec<String>,
}

impl Image {
    pub fn load() -> Self {
        let path = docker_dir().join("Dockerfile");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Instructions, with continuation lines joined and comments dropped.
        let joined = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("\\\n", " ");
        let last = |keyword: &str| {
            joined
                .lines()
                .filter_map(|l| l.strip_prefix(keyword))
                .next_back()
                .unwrap_or_else(|| panic!("Dockerfile has no {keyword}"))
                .trim()
                .to_owned()
        };
        let json = |text: String| -> Vec<String> {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("Dockerfile: {text}: not a JSON array: {e}"))
        };
        Image { entrypoint: json(last("ENTRYPOINT ")), user: last("USER "), volumes: json(last("VOLUME ")) }
    }
}
