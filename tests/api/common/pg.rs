//! A PostgreSQL server for the tests: `TEST_DATABASE_URL` when set, otherwise a throwaway
//! cluster started here (initdb + pg_ctl in a temporary folder, as the `postgres` user when
//! running as root) and stopped when the test process exits. A migrated template database is
//! made once per process; each test gets `CREATE DATABASE … TEMPLATE …`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// The server and its template.
pub struct PgServer {
    /// URL of the server without database name, e.g. `postgres://postgres@127.0.0.1:5544`.
    base: String,
    /// Maintenance database name used to create the per-test databases.
    admin_db: String,
    /// Template database, migrated.
    template: String,
    /// Cluster we started (None when TEST_DATABASE_URL was given).
    cluster: Option<Cluster>,
    /// Serialises CREATE DATABASE … TEMPLATE (the template must have no other user meanwhile).
    lock: Mutex<()>,
}

struct Cluster {
    dir: PathBuf,
    bindir: PathBuf,
    as_postgres: bool,
}

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();

/// The shared server, started on first use. `Err` says why PostgreSQL tests cannot run.
pub fn server() -> Result<&'static PgServer, String> {
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

impl PgServer {
    /// Creates a fresh database cloned from the migrated template; returns its URL.
    pub fn fresh_database(&self) -> Result<String, String> {
        let name = format!("tp_t_{}", uuid::Uuid::new_v4().simple());
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut admin = PgConnection::establish(&format!("{}/{}", self.base, self.admin_db))
            .map_err(|e| e.to_string())?;
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {}",
                self.template
            ))
            .map_err(|e| e.to_string())?;
        Ok(format!("{}/{name}", self.base))
    }

    /// Drops a per-test database (closing whatever still holds it).
    pub fn drop_database(&self, url: &str) {
        let Some(name) = url.rsplit('/').next() else {
            return;
        };
        if let Ok(mut admin) = PgConnection::establish(&format!("{}/{}", self.base, self.admin_db))
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

fn start() -> Result<PgServer, String> {
    let (base, admin_db, cluster) = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let (base, db) = url
                .rsplit_once('/')
                .ok_or("TEST_DATABASE_URL must end with /DBNAME")?;
            (base.to_owned(), db.to_owned(), None)
        }
        _ => {
            let cluster = Cluster::start()?;
            let base = format!("postgres://postgres@127.0.0.1:{}", cluster.port()?);
            (base, "postgres".to_owned(), Some(cluster))
        }
    };
    if cluster.is_some() {
        extern "C" fn stop_at_exit() {
            if let Some(Ok(server)) = SERVER.get() {
                if let Some(c) = &server.cluster {
                    c.stop();
                }
            }
        }
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe {
            libc::atexit(stop_at_exit);
        }
    }
    let template = format!("tp_tpl_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::establish(&format!("{base}/{admin_db}"))
        .map_err(|e| format!("cannot reach PostgreSQL at {base}: {e}"))?;
    admin
        .batch_execute(&format!("CREATE DATABASE {template}"))
        .map_err(|e| e.to_string())?;
    {
        let mut settings = tenderpool::config::Settings::load_from(Path::new("/nonexistent"), &[])
            .map_err(|e| e.to_string())?
            .database;
        settings.url = format!("{base}/{template}");
        settings.pool_max = 1;
        let db = tenderpool::db::Db::open(&settings).map_err(|e| e.to_string())?;
        db.migrate().map_err(|e| e.to_string())?;
    }
    // Make sure no connection to the template survives (it would block the clones).
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}' AND pid <> pg_backend_pid()"
        ))
        .map_err(|e| e.to_string())?;
    Ok(PgServer {
        base,
        admin_db,
        template,
        cluster,
        lock: Mutex::new(()),
    })
}

fn bindir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().ok_or_else(|| {
        "PostgreSQL binaries (initdb, pg_ctl) not found and TEST_DATABASE_URL not set".to_owned()
    })
}

impl Cluster {
    fn start() -> Result<Self, String> {
        let bindir = bindir()?;
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = std::env::temp_dir().join(format!(
            "tenderpool-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        }
        let port = free_port()?;
        let cluster = Cluster {
            dir,
            bindir,
            as_postgres,
        };
        std::fs::write(cluster.dir.join("port"), port.to_string()).map_err(|e| e.to_string())?;
        let data = cluster.dir.join("data");
        cluster.pg(
            "initdb",
            &[
                "-D",
                path(&data)?,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let opts = format!(
            "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            path(&cluster.dir)?
        );
        let log = cluster.dir.join("server.log");
        cluster.pg(
            "pg_ctl",
            &[
                "-D",
                path(&data)?,
                "-o",
                &opts,
                "-l",
                path(&log)?,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        Ok(cluster)
    }

    fn port(&self) -> Result<u16, String> {
        std::fs::read_to_string(self.dir.join("port"))
            .map_err(|e| e.to_string())?
            .trim()
            .parse()
            .map_err(|e| format!("{e}"))
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bindir.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(&self.dir);
        run(&mut cmd)
    }

    fn stop(&self) {
        if let Ok(data) = path(&self.dir.join("data")) {
            let _ = self.pg("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("non UTF-8 path {}", p.display()))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
