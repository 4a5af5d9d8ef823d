//! The learning database's change feed, so the counting index can hold every enrollment
//! ([`EnrollmentFeed`]): statement triggers on the learning table write the tenant and user of
//! each changed row to `usermgmt_enrollment_changes` with the writing transaction's id, read
//! like the users' feed (`crate::feed`).

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::Row;
use usermgmt_core::Result;
use usermgmt_core::model::{Enrollment, TenantId};
use usermgmt_core::storage::{Batches, EnrollmentFeed, FeedChanges};
use uuid::Uuid;

use crate::enrollment_source::PgEnrollmentSource;
use crate::error::map_err;
use crate::feed::FeedTables;

/// The feed's tables in the learning database.
const FEED: FeedTables = FeedTables {
    changes: "usermgmt_enrollment_changes",
    pruned: "usermgmt_enrollment_changes_pruned",
};

/// Enrollments per batch of a full read.
const BATCH: usize = 4_096;

impl PgEnrollmentSource {
    /// Installs the change feed in the learning database: two tables, a function and four
    /// statement triggers on the learning table (idempotent; needs the right to create them).
    /// Afterwards the counting index keeps the enrollments in memory, follows every write
    /// (whichever program makes it) and answers enrollment filters without querying the table.
    pub async fn install_change_feed(&self) -> Result<()> {
        let layout = self.layout();
        let q = |name: &str| format!("\"{name}\"");
        // The triggers run as the writers of the learning table: the function runs as its
        // owner (who may write the feed), finding the feed's tables in this schema whatever
        // the writer's search path. Installing again makes every reader rebuild (the pruned
        // mark moves), so nothing written while the feed was missing is taken as followed.
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(self.pool())
            .await
            .map_err(map_err("installing the enrollment feed"))?;
        let tenant = layout
            .tenant_id
            .as_ref()
            .map_or("NULL::text".to_owned(), |c| format!("{}::text", q(c)));
        let user = format!("{}::text", q(&layout.user_id));
        let table = q(&layout.table);
        let name = |what: &str| q(&format!("usermgmt_feed_{}_{what}", layout.table));
        let function = name("changed");
        let record = |rows: &str| {
            format!(
                "INSERT INTO {changes} (tenant_id, user_id) \
                 SELECT DISTINCT {tenant}, {user} FROM {rows} WHERE {user} IS NOT NULL;",
                changes = FEED.changes
            )
        };
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {changes} (tenant_id text, user_id text NOT NULL, \
                 txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint), \
                 at timestamptz NOT NULL DEFAULT clock_timestamp());
             CREATE INDEX IF NOT EXISTS {changes}_by_txid ON {changes} (tenant_id, txid);
             CREATE INDEX IF NOT EXISTS {changes}_by_time ON {changes} (at);
             CREATE TABLE IF NOT EXISTS {pruned} (id integer PRIMARY KEY CHECK (id = 1), \
                 txid bigint NOT NULL);
             INSERT INTO {pruned} AS p (id, txid) VALUES (1, pg_current_xact_id()::text::bigint)
                 ON CONFLICT (id) DO UPDATE SET txid = GREATEST(p.txid, EXCLUDED.txid);
             CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql
                 SECURITY DEFINER SET search_path = {schema}, pg_catalog AS $$
             BEGIN
                 IF TG_OP = 'TRUNCATE' THEN
                     UPDATE {pruned} SET txid = pg_current_xact_id()::text::bigint WHERE id = 1;
                     RETURN NULL;
                 END IF;
                 IF TG_OP IN ('INSERT', 'UPDATE') THEN {from_new} END IF;
                 IF TG_OP IN ('UPDATE', 'DELETE') THEN {from_old} END IF;
                 RETURN NULL;
             END $$;
             CREATE OR REPLACE TRIGGER {insert} AFTER INSERT ON {table}
                 REFERENCING NEW TABLE AS new_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION {function}();
             CREATE OR REPLACE TRIGGER {update} AFTER UPDATE ON {table}
                 REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION {function}();
             CREATE OR REPLACE TRIGGER {delete} AFTER DELETE ON {table}
                 REFERENCING OLD TABLE AS old_rows
                 FOR EACH STATEMENT EXECUTE FUNCTION {function}();
             CREATE OR REPLACE TRIGGER {truncate} AFTER TRUNCATE ON {table}
                 FOR EACH STATEMENT EXECUTE FUNCTION {function}();",
            changes = FEED.changes,
            pruned = FEED.pruned,
            schema = q(&schema),
            from_new = record("new_rows"),
            from_old = record("old_rows"),
            insert = name("insert"),
            update = name("update"),
            delete = name("delete"),
            truncate = name("truncate"),
        );
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(map_err("installing the enrollment feed"))?;
        // Names come from a validated layout (plain identifiers, quoted).
        sqlx::raw_sql(sqlx::AssertSqlSafe(ddl))
            .execute(&mut *tx)
            .await
            .map_err(map_err("installing the enrollment feed"))?;
        tx.commit()
            .await
            .map_err(map_err("installing the enrollment feed"))
    }

    /// Whether the feed's four triggers are on the learning table and enabled (a table
    /// recreated by a migration, or `DISABLE TRIGGER`, would leave the feed quiet).
    async fn triggers_enabled(&self) -> Result<bool> {
        let table = &self.layout().table;
        let names: Vec<String> = ["insert", "update", "delete", "truncate"]
            .iter()
            .map(|what| format!("usermgmt_feed_{table}_{what}"))
            .collect();
        let enabled: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_trigger t \
             WHERE t.tgrelid = to_regclass(quote_ident($1)) AND t.tgname = ANY($2) \
             AND t.tgenabled <> 'D'",
        )
        .bind(table)
        .bind(&names)
        .fetch_one(self.pool())
        .await
        .map_err(map_err("reading the enrollment feed"))?;
        Ok(enabled == 4)
    }

    /// The tenant the feed's entries are filed under (none without a tenant column).
    fn feed_tenant<'a>(&self, tenant: &'a TenantId) -> Option<&'a str> {
        self.layout().tenant_id.as_ref().map(|_| tenant.as_str())
    }
}

/// An enrollment row of a [`usermgmt_sql::rows_query`].
fn enrollment(row: &sqlx::postgres::PgRow) -> Result<Option<Enrollment>> {
    let text = |i: usize| row.try_get::<Option<String>, _>(i).ok().flatten();
    let number = |i: usize| row.try_get::<Option<i64>, _>(i).ok().flatten();
    let (Some(user), Some(status)) = (text(0), text(3)) else {
        return Ok(None);
    };
    usermgmt_sql::enrollment_row(
        &user,
        text(1).unwrap_or_default(),
        text(2).unwrap_or_default(),
        &status,
        number(4).unwrap_or(0),
        number(5).unwrap_or(0),
        row.try_get(6).ok().flatten(),
    )
}

#[async_trait]
impl EnrollmentFeed for PgEnrollmentSource {
    async fn enrollment_feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        let installed: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(FEED.changes)
            .fetch_one(self.pool())
            .await
            .map_err(map_err("reading the enrollment feed"))?;
        if !installed || !self.triggers_enabled().await? {
            return Ok(None);
        }
        crate::feed::position(self.pool()).await
    }

    async fn enrollment_feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges> {
        if !self.triggers_enabled().await? {
            return Ok(FeedChanges::Gap);
        }
        crate::feed::changes(self.pool(), FEED, self.feed_tenant(tenant), since).await
    }

    fn all_enrollments(&self, tenant: &TenantId) -> Batches<Enrollment> {
        let query =
            usermgmt_sql::rows_query(&crate::query::Pg, self.layout(), tenant.as_str(), None);
        let pool = self.pool().clone();
        Batches::spawn(move |sink| async move {
            let mut sql = crate::query::build(&query);
            let mut rows = sql.build().persistent(false).fetch(&pool);
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(row) = rows
                .try_next()
                .await
                .map_err(map_err("reading enrollments"))?
            {
                batch.extend(enrollment(&row)?);
                if batch.len() == BATCH
                    && !sink
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .await
                {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                sink.send(batch).await;
            }
            Ok(())
        })
    }

    async fn enrollments_of(&self, tenant: &TenantId, users: &[Uuid]) -> Result<Vec<Enrollment>> {
        let query = usermgmt_sql::rows_query(
            &crate::query::Pg,
            self.layout(),
            tenant.as_str(),
            Some(users),
        );
        let mut sql = crate::query::build(&query);
        let rows = sql
            .build()
            .persistent(false)
            .fetch_all(self.pool())
            .await
            .map_err(map_err("reading enrollments"))?;
        let mut all = Vec::with_capacity(rows.len());
        for row in &rows {
            all.extend(enrollment(row)?);
        }
        Ok(all)
    }

    async fn prune_enrollment_feed(&self, keep: std::time::Duration) -> Result<u64> {
        crate::feed::prune(self.pool(), FEED, keep).await
    }
}
