//! The stack file as written: strict serde types. Every string keeps its position so that later
//! checks (references, CIDRs, literal passwords) can name the line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type Sp<T> = Spanned<T>;
pub type Str = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    pub stack: Str,
    #[serde(default)]
    pub region: Option<Str>,
    #[serde(default)]
    pub tags: BTreeMap<String, Str>,
    #[serde(default)]
    pub security_groups: BTreeMap<String, Sp<RawSecurityGroup>>,
    #[serde(default)]
    pub db_instances: BTreeMap<String, Sp<RawDbInstance>>,
    #[serde(default)]
    pub functions: BTreeMap<String, Sp<RawFunction>>,
    #[serde(default)]
    pub user_pools: BTreeMap<String, Sp<RawUserPool>>,
    #[serde(default)]
    pub cognito_triggers: Vec<Sp<RawTrigger>>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecurityGroup {
    pub description: Str,
    #[serde(default)]
    pub vpc: Option<Str>,
    #[serde(default)]
    pub ingress: Vec<Sp<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub description: Str,
    #[serde(default)]
    pub protocol: Option<Str>,
    #[serde(default)]
    pub port: Option<Sp<i64>>,
    #[serde(default)]
    pub ports: Option<Str>,
    #[serde(default)]
    pub cidr: Option<Str>,
    #[serde(default)]
    pub source_group: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDbInstance {
    pub engine: Str,
    #[serde(default)]
    pub engine_version: Option<Str>,
    pub instance_class: Str,
    pub allocated_storage: Sp<i64>,
    #[serde(default)]
    pub storage_type: Option<Str>,
    #[serde(default)]
    pub storage_encrypted: Option<Sp<bool>>,
    pub master_username: Str,
    #[serde(default)]
    pub master_password: Option<Str>,
    #[serde(default)]
    pub manage_master_password: Option<Sp<bool>>,
    #[serde(default)]
    pub db_name: Option<Str>,
    #[serde(default)]
    pub port: Option<Sp<i64>>,
    #[serde(default)]
    pub availability_zone: Option<Str>,
    #[serde(default)]
    pub multi_az: Option<Sp<bool>>,
    #[serde(default)]
    pub publicly_accessible: Option<Sp<bool>>,
    #[serde(default)]
    pub backup_retention_days: Option<Sp<i64>>,
    #[serde(default)]
    pub performance_insights: Option<Sp<RawPerformanceInsights>>,
    #[serde(default)]
    pub deletion_protection: Option<Sp<bool>>,
    #[serde(default)]
    pub security_groups: Vec<Str>,
    #[serde(default)]
    pub running: Option<Sp<bool>>,
    #[serde(default)]
    pub final_snapshot: Option<Sp<BoolOrString>>,
    #[serde(default)]
    pub migrations: Option<Str>,
    #[serde(default)]
    pub seed: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerformanceInsights {
    pub enabled: Sp<bool>,
    #[serde(default)]
    pub retention_days: Option<Sp<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum BoolOrString {
    Bool(bool),
    String(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    pub source: Str,
    pub runtime: Str,
    pub handler: Str,
    #[serde(default)]
    pub description: Option<Str>,
    #[serde(default)]
    pub memory: Option<Sp<i64>>,
    #[serde(default)]
    pub timeout: Option<Sp<i64>>,
    #[serde(default)]
    pub role: Option<Str>,
    #[serde(default)]
    pub layers: Vec<Sp<RawLayer>>,
    #[serde(default)]
    pub vpc: Option<Sp<RawVpc>>,
    #[serde(default)]
    pub environment: BTreeMap<String, Str>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawLayer {
    Arn(String),
    Folder(RawLayerFolder),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLayerFolder {
    pub name: String,
    pub source: String,
    #[serde(default)]
    pub runtimes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVpc {
    #[serde(default)]
    pub subnets: Option<Sp<RawSubnets>>,
    #[serde(default)]
    pub security_groups: Vec<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSubnets {
    Keyword(String),
    Ids(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUserPool {
    #[serde(default)]
    pub username_attributes: Option<Vec<Str>>,
    #[serde(default)]
    pub auto_verified_attributes: Option<Vec<Str>>,
    #[serde(default)]
    pub deletion_protection: Option<Sp<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub user_pool: Str,
    pub event: Str,
    pub function: Str,
}
