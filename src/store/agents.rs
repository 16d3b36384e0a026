//! The registry of agents: only a registered, active agent acts, within what its role allows.
//! Roles are ordered: `lecture` reads, `gestion` also ingests, reconciles and writes letters,
//! `administration` also manages agents and purges.

use std::fmt;

use serde::Serialize;

use super::db::Val;
use super::{now, Store, StoreError};

/// What an agent may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the store (status, masked NIR).
    Lecture,
    /// Works the flow: ingest, reconcile, letters; sees full NIRs.
    Gestion,
    /// Manages agents, purges.
    Administration,
}

impl Role {
    /// The role's name as written on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Lecture => "lecture",
            Role::Gestion => "gestion",
            Role::Administration => "administration",
        }
    }

    /// The role called `s`.
    pub fn parse(s: &str) -> Option<Role> {
        [Role::Lecture, Role::Gestion, Role::Administration]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    /// Whether this role sees a NIR in full (else its last 4 characters).
    pub fn sees_full_nir(self) -> bool {
        self >= Role::Gestion
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    /// Its identifier (a matricule).
    pub id: String,
    /// Family name.
    pub nom: String,
    /// Given name.
    pub prenom: String,
    /// What it may do.
    pub role: Role,
    /// Whether it may still act.
    pub active: bool,
    /// When it was registered.
    pub created_at: String,
    /// Who registered it (`-` for the first one).
    pub created_by: String,
}

const SELECT: &str = "SELECT id, nom, prenom, role, active, created_at, created_by FROM agents";

fn agent_of(row: &[Val]) -> Agent {
    let text = |i: usize| row.get(i).map(|v| v.text().to_string()).unwrap_or_default();
    Agent {
        id: text(0),
        nom: text(1),
        prenom: text(2),
        role: Role::parse(&text(3)).unwrap_or(Role::Lecture),
        active: row.get(4).is_some_and(|v| v.int() != 0),
        created_at: text(5),
        created_by: text(6),
    }
}

impl Store {
    /// Every agent, by identifier.
    pub fn agents(&mut self) -> Result<Vec<Agent>, StoreError> {
        let rows = self.db.query(&format!("{SELECT} ORDER BY id"), &[])?;
        Ok(rows.iter().map(|r| agent_of(r)).collect())
    }

    fn agent(&mut self, id: &str) -> Result<Option<Agent>, StoreError> {
        let rows = self
            .db
            .query(&format!("{SELECT} WHERE id = $1"), &[id.into()])?;
        Ok(rows.first().map(|r| agent_of(r)))
    }

    /// The agent `id`, when it is registered, active and its role at least `needs` for
    /// `action`; the refusal otherwise.
    pub fn authorize(
        &mut self,
        id: Option<&str>,
        action: &str,
        needs: Role,
    ) -> Result<Agent, StoreError> {
        let id = id
            .filter(|s| !s.trim().is_empty())
            .ok_or(StoreError::NoAgent)?;
        let agent = self
            .agent(id)?
            .ok_or_else(|| StoreError::UnknownAgent(id.to_string()))?;
        if !agent.active {
            return Err(StoreError::DisabledAgent(agent.id));
        }
        if agent.role < needs {
            return Err(StoreError::Forbidden {
                agent: agent.id,
                role: agent.role,
                action: action.to_string(),
                needs,
            });
        }
        Ok(agent)
    }

    /// Registers `new`. On a store with no agent, no one needs to be named and the first one
    /// must be an administrator; afterwards `by` must be an active administrator. Audited.
    pub fn add_agent(
        &mut self,
        by: Option<&str>,
        id: &str,
        nom: &str,
        prenom: &str,
        role: Role,
    ) -> Result<Agent, StoreError> {
        let valid = |s: &str| !s.trim().is_empty();
        if !valid(id) || !valid(nom) || !valid(prenom) {
            return Err(StoreError::Invalid(
                "un agent a un identifiant, un nom et un prénom non vides".into(),
            ));
        }
        let first = self.db.one("SELECT COUNT(*) FROM agents", &[])?.int() == 0;
        let by = if first {
            if role != Role::Administration {
                return Err(StoreError::Invalid(
                    "le premier agent d'un magasin vide est un administrateur : --role administration".into(),
                ));
            }
            "-".to_string()
        } else {
            self.authorize(by, "agents add", Role::Administration)?.id
        };
        if self.agent(id)?.is_some() {
            return Err(StoreError::Invalid(format!("l'agent « {id} » existe déjà")));
        }
        let agent = Agent {
            id: id.to_string(),
            nom: nom.to_string(),
            prenom: prenom.to_string(),
            role,
            active: true,
            created_at: now(),
            created_by: by.clone(),
        };
        let audit_agent = if first { id.to_string() } else { by };
        self.db.transaction(|db| {
            db.exec(
                "INSERT INTO agents (id, nom, prenom, role, active, created_at, created_by) VALUES ($1, $2, $3, $4, 1, $5, $6)",
                &[
                    agent.id.as_str().into(),
                    agent.nom.as_str().into(),
                    agent.prenom.as_str().into(),
                    role.as_str().into(),
                    agent.created_at.as_str().into(),
                    agent.created_by.as_str().into(),
                ],
            )?;
            super::audit::append(
                db,
                &audit_agent,
                "agents add",
                &[format!("agent={}", agent.id)],
                &format!("rôle {role}"),
            )
        })?;
        Ok(agent)
    }

    /// Disables agent `id` (kept for the audit trail, never deleted). Audited.
    pub fn disable_agent(&mut self, by: Option<&str>, id: &str) -> Result<(), StoreError> {
        let admin = self.authorize(by, "agents disable", Role::Administration)?;
        if self.agent(id)?.is_none() {
            return Err(StoreError::UnknownAgent(id.to_string()));
        }
        if admin.id == id {
            return Err(StoreError::Invalid(
                "un administrateur ne se désactive pas lui-même (un autre administrateur le fait)"
                    .into(),
            ));
        }
        self.db.transaction(|db| {
            db.exec("UPDATE agents SET active = 0 WHERE id = $1", &[id.into()])?;
            super::audit::append(
                db,
                &admin.id,
                "agents disable",
                &[format!("agent={id}")],
                "",
            )
        })
    }
}
