//! The store implementation shared by the SQLite and PostgreSQL backends.
//!
//! Both backends speak the same SQL (numbered `$n` parameters, `RETURNING`, `ON CONFLICT`,
//! `LIKE ... ESCAPE`), so the implementation is written once, as a macro that each
//! backend module expands for its own `sqlx::Database`. The few dialect differences come
//! in as constants (`$for_update`). Every write that touches more than one row runs in a
//! transaction, so an error leaves nothing half-written.

macro_rules! impl_sql_store {
    ($store:ty, $db:ty, backend = $backend:literal, migrations = $migrations:literal, for_update = $for_update:literal, for_update_of_i = $for_update_of_i:literal, claim_lock = $claim_lock:literal, skip_locked = $skip_locked:literal) => {
        use $crate::error::{Result, StoreError};
        use $crate::rows::*;
        use $crate::session::{EndSessions, RotateOutcome, Session};
        use $crate::store::*;
        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use cyberhub_domain::{
            AccountStatus, AuditCount, AuditEvent, AuditFilter, ContentFilter, ContentItem, ContentPatch, ContentUuid,
            Invitation, InvitationFilter, InvitationId, InvitationStatus,
            Membership, OrgFilter, OrgId, OrgPatch, OrgRole, Organization, Page, PageResult, Progress,
            ProgressFilter, ProgressId, ProgressPatch, Role, RoleGrant, RoleScope, SessionId, User,
            UserFilter, UserId, UserPatch, Validate,
        };
        use sqlx::types::Json;
        use sqlx::QueryBuilder;
        use uuid::Uuid;

        fn db_err(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
            move |e| StoreError::from_sqlx(what, e)
        }

        /// `NotFound` for `what` unless a statement touched a row.
        fn one_row(what: &'static str, rows_affected: u64) -> Result<()> {
            if rows_affected == 0 {
                Err(StoreError::not_found(what))
            } else {
                Ok(())
            }
        }

        async fn delete_by_id<'c, E>(ex: E, sql: &'static str, id: Uuid, what: &'static str) -> Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let r = sqlx::query(sql).bind(id).execute(ex).await.map_err(db_err(what))?;
            one_row(what, r.rows_affected())
        }

        fn total(n: i64) -> u64 {
            u64::try_from(n).unwrap_or(0)
        }

        async fn count_and_page<R>(
            pool: &sqlx::Pool<$db>,
            what: &'static str,
            page: Page,
            mut count_q: QueryBuilder<'_, $db>,
            mut items_q: QueryBuilder<'_, $db>,
        ) -> Result<(u64, Vec<R>)>
        where
            R: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
        {
            let n: i64 = count_q.build_query_scalar().fetch_one(pool).await.map_err(db_err(what))?;
            items_q.push(" LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
            let rows: Vec<R> = items_q.build_query_as().fetch_all(pool).await.map_err(db_err(what))?;
            Ok((total(n), rows))
        }

        fn push_user_filter<'a>(q: &mut QueryBuilder<'a, $db>, f: &'a UserFilter) {
            q.push(" WHERE 1=1");
            if let Some(s) = &f.search {
                let pat = like_pattern(s);
                q.push(" AND (LOWER(email) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR LOWER(first_name) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR LOWER(last_name) LIKE ").push_bind(pat).push(" ESCAPE '\\')");
            }
            if let Some(st) = f.status {
                q.push(" AND status = ").push_bind(st.as_str());
            }
            if let Some(r) = f.role {
                q.push(" AND EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = users.id AND g.role = ")
                    .push_bind(r.as_str())
                    .push(")");
            }
        }

        async fn insert_grant<'c, E>(ex: E, g: &RoleGrant) -> Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            sqlx::query(
                "INSERT INTO role_grants (user_id, role, scope_org_id, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(g.user_id.0)
            .bind(g.role.as_str())
            .bind(g.scope.org().map(|o| o.0))
            .bind(g.granted_by.map(|u| u.0))
            .bind(g.granted_at)
            .execute(ex)
            .await
            .map_err(db_err("role grant"))?;
            Ok(())
        }

        /// Writes an audit row inside the caller's transaction: it commits with the change
        /// it records, or neither does.
        async fn insert_audit<'c, E>(ex: E, e: &AuditEvent) -> Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let q = sqlx::query(concat!(
                "INSERT INTO audit_log (", audit_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ));
            bind_audit!(q, e).execute(ex).await.map_err(db_err("audit event"))?;
            Ok(())
        }

        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, user: &User, password_hash: &str, roles: &[RoleGrant], audit: &AuditEvent) -> Result<()> {
                let user = user.clone().validated()?;
                if password_hash.is_empty() {
                    return Err(StoreError::new(cyberhub_domain::ErrorKind::Validation, "password hash is empty"));
                }
                if roles.iter().any(|g| g.user_id != user.id) {
                    return Err(StoreError::new(
                        cyberhub_domain::ErrorKind::Validation,
                        "initial role grants must belong to the new user",
                    ));
                }
                let prefs = serde_json::to_value(&user.learning_preferences)
                    .map_err(|e| StoreError::corrupt("learning preferences", e))?;
                let mut tx = self.write.begin().await.map_err(db_err("user"))?;
                sqlx::query(concat!(
                    "INSERT INTO users (", user_cols!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(user.id.0)
                .bind(&user.email)
                .bind(password_hash)
                .bind(&user.first_name)
                .bind(&user.last_name)
                .bind(&user.bio)
                .bind(&user.country)
                .bind(&user.timezone)
                .bind(&user.language)
                .bind(Json(prefs))
                .bind(user.status.as_str())
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("user"))?;
                for g in roles {
                    insert_grant(&mut *tx, g).await?;
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("user"))?;
                Ok(())
            }

            async fn get_user(&self, id: UserId) -> Result<User> {
                sqlx::query_as::<_, UserRow>(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("user"))?
                    .into_user()
            }

            async fn get_credentials_by_email(&self, email: &str) -> Result<UserCredentials> {
                let row = sqlx::query_as::<_, UserRow>(concat!("SELECT ", user_cols!(), " FROM users WHERE email = $1"))
                    .bind(email.trim().to_lowercase())
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("user"))?;
                let password_hash = row.password_hash.clone();
                Ok(UserCredentials { user: row.into_user()?, password_hash })
            }

            async fn update_user(&self, id: UserId, patch: &UserPatch, now: DateTime<Utc>, audit: &AuditEvent) -> Result<User> {
                let patch = patch.clone().validated()?;
                let mut tx = self.write.begin().await.map_err(db_err("user"))?;
                let mut user = sqlx::query_as::<_, UserRow>(concat!(
                    "SELECT ", user_cols!(), " FROM users WHERE id = $1", $for_update
                ))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("user"))?
                .into_user()?;
                if user.status == AccountStatus::Active
                    && patch.status.is_some_and(|s| s != AccountStatus::Active)
                {
                    ensure_platform_admin_remains(&mut tx, id).await?;
                }
                user.apply(&patch, now);
                let prefs = serde_json::to_value(&user.learning_preferences)
                    .map_err(|e| StoreError::corrupt("learning preferences", e))?;
                sqlx::query(
                    "UPDATE users SET first_name = $2, last_name = $3, bio = $4, country = $5, timezone = $6, \
                     language = $7, learning_preferences = $8, status = $9, updated_at = $10 WHERE id = $1",
                )
                .bind(id.0)
                .bind(&user.first_name)
                .bind(&user.last_name)
                .bind(&user.bio)
                .bind(&user.country)
                .bind(&user.timezone)
                .bind(&user.language)
                .bind(Json(prefs))
                .bind(user.status.as_str())
                .bind(user.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("user"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("user"))?;
                Ok(user)
            }

            async fn set_password_hash(
                &self,
                id: UserId,
                password_hash: &str,
                now: DateTime<Utc>,
                end_sessions: EndSessions,
                audit: &AuditEvent,
            ) -> Result<u64> {
                if password_hash.is_empty() {
                    return Err(StoreError::new(cyberhub_domain::ErrorKind::Validation, "password hash is empty"));
                }
                let mut tx = self.write.begin().await.map_err(db_err("user"))?;
                let r = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(id.0)
                    .bind(password_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("user"))?;
                one_row("user", r.rows_affected())?;
                let ended = match end_sessions {
                    EndSessions::None => 0,
                    EndSessions::AllExcept(keep) => {
                        revoke_sessions_of(&mut *tx, id, Some(keep), "password_change", now).await?
                    }
                    EndSessions::All => revoke_sessions_of(&mut *tx, id, None, "password_change", now).await?,
                };
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("user"))?;
                Ok(ended)
            }

            async fn set_email(&self, id: UserId, email: &str, now: DateTime<Utc>, audit: &AuditEvent) -> Result<User> {
                let email = cyberhub_domain::normalized_email(email, "email")?;
                let mut tx = self.write.begin().await.map_err(db_err("user"))?;
                let r = sqlx::query("UPDATE users SET email = $2, updated_at = $3 WHERE id = $1")
                    .bind(id.0)
                    .bind(&email)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("user"))?;
                one_row("user", r.rows_affected())?;
                let user = sqlx::query_as::<_, UserRow>(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("user"))?
                    .into_user()?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("user"))?;
                Ok(user)
            }

            async fn delete_user(&self, id: UserId, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("user"))?;
                // Organizations this user is the only admin of would be left unmanaged: refuse.
                // The admin rows are locked (PostgreSQL) so that two admins removing each
                // other cannot both pass the check.
                let admins: Vec<(Uuid, Uuid)> = sqlx::query_as(concat!(
                    "SELECT org_id, user_id FROM memberships WHERE role = 'admin' AND org_id IN ",
                    "(SELECT org_id FROM memberships WHERE user_id = $1 AND role = 'admin')", $for_update
                ))
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err("membership"))?;
                let mut sole: Vec<Uuid> = admins
                    .iter()
                    .map(|(org, _)| *org)
                    .filter(|org| admins.iter().all(|(o, u)| o != org || *u == id.0))
                    .collect();
                sole.sort();
                sole.dedup();
                if !sole.is_empty() {
                    let mut q = QueryBuilder::<$db>::new("SELECT slug FROM organizations WHERE id IN (");
                    let mut ids = q.separated(", ");
                    for org in &sole {
                        ids.push_bind(*org);
                    }
                    q.push(") ORDER BY slug");
                    let slugs: Vec<String> = q
                        .build_query_scalar()
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db_err("organization"))?;
                    return Err(StoreError::new(
                        cyberhub_domain::ErrorKind::Conflict,
                        format!(
                            "this user is the only admin of the organization(s) {}: make another \
                             member an admin, or delete the organization, first",
                            slugs.join(", ")
                        ),
                    ));
                }
                // The platform must keep an active administrator.
                ensure_platform_admin_remains(&mut tx, id).await?;
                let r = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("user"))?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::not_found("user"));
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("user"))?;
                Ok(())
            }

            async fn list_users(&self, filter: &UserFilter, page: Page) -> Result<PageResult<User>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM users");
                push_user_filter(&mut count_q, filter);
                let mut items_q = QueryBuilder::<$db>::new(concat!("SELECT ", user_cols!(), " FROM users"));
                push_user_filter(&mut items_q, filter);
                items_q.push(" ORDER BY created_at DESC, id DESC");
                let (total, rows) = count_and_page::<UserRow>(&self.read, "user", page, count_q, items_q).await?;
                let items = rows.into_iter().map(UserRow::into_user).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }
        }

        /// Revokes every active session of `user_id` but `keep`, inside the caller's
        /// transaction; returns how many.
        async fn revoke_sessions_of<'c, E>(
            ex: E,
            user_id: UserId,
            keep: Option<SessionId>,
            reason: &str,
            now: DateTime<Utc>,
        ) -> Result<u64>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let r = sqlx::query(
                "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
                 WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id <> $2)",
            )
            .bind(user_id.0)
            .bind(keep.map(|k| k.0))
            .bind(now)
            .bind(reason)
            .execute(ex)
            .await
            .map_err(db_err("session"))?;
            Ok(r.rows_affected())
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, s: &Session, max_live: u32, audit: &AuditEvent) -> Result<u64> {
                let keep = i64::from(max_live.max(1)) - 1;
                if $backend == "postgres" {
                    // One statement of data-modifying CTEs: the session, the cap on the
                    // others and the audit row are written together (a statement is its
                    // own transaction) in one round trip instead of five. The cap sees the
                    // snapshot from before the insert, as it excludes the new id anyway.
                    let q = sqlx::query_scalar::<$db, i64>(concat!(
                        "WITH new_session AS (INSERT INTO sessions (", session_cols!(), ") ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)), ",
                        "capped AS (UPDATE sessions SET revoked_at = $5, revoked_reason = 'session_limit' ",
                        "WHERE user_id = $2 AND id <> $1 AND revoked_at IS NULL AND expires_at > $5 ",
                        "AND id NOT IN (SELECT id FROM sessions ",
                        "WHERE user_id = $2 AND id <> $1 AND revoked_at IS NULL AND expires_at > $5 ",
                        "ORDER BY created_at DESC, id DESC LIMIT $13) RETURNING 1), ",
                        "audit AS (INSERT INTO audit_log (", audit_cols!(), ") ",
                        "VALUES ($14, $15, $16, $17, $18, $19, $20, $21, $22)) ",
                        "SELECT COUNT(*) FROM capped"
                    ));
                    let q = bind_session!(q, s).bind(keep);
                    let capped = bind_audit!(q, audit)
                        .fetch_one(&self.write)
                        .await
                        .map_err(db_err("session"))?;
                    return Ok(u64::try_from(capped).unwrap_or(0));
                }
                let mut tx = self.write.begin().await.map_err(db_err("session"))?;
                let q = sqlx::query(concat!(
                    "INSERT INTO sessions (", session_cols!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ));
                bind_session!(q, s)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("session"))?;
                // The newest `max_live - 1` others stay live, with this one.
                let capped = sqlx::query(
                    "UPDATE sessions SET revoked_at = $3, revoked_reason = 'session_limit' \
                     WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > $3 \
                     AND id NOT IN (SELECT id FROM sessions \
                       WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > $3 \
                       ORDER BY created_at DESC, id DESC LIMIT $4)",
                )
                .bind(s.user_id.0)
                .bind(s.id.0)
                .bind(s.created_at)
                .bind(keep)
                .execute(&mut *tx)
                .await
                .map_err(db_err("session"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("session"))?;
                Ok(capped.rows_affected())
            }

            async fn get_session(&self, id: SessionId) -> Result<Session> {
                Ok(sqlx::query_as::<_, SessionRow>(concat!("SELECT ", session_cols!(), " FROM sessions WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("session"))?
                    .into())
            }

            async fn rotate_refresh(
                &self,
                id: SessionId,
                expected_jti: Uuid,
                new_jti: Uuid,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> Result<RotateOutcome> {
                let mut tx = self.write.begin().await.map_err(db_err("session"))?;
                let rotated = sqlx::query_as::<_, SessionRow>(concat!(
                    "UPDATE sessions SET previous_refresh_jti = refresh_jti, refresh_jti = $3, generation = generation + 1, last_used_at = $4 ",
                    "WHERE id = $1 AND refresh_jti = $2 AND revoked_at IS NULL AND expires_at > $4 ",
                    "RETURNING ", session_cols!()
                ))
                .bind(id.0)
                .bind(expected_jti)
                .bind(new_jti)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("session"))?;
                match rotated {
                    Some(row) => {
                        insert_audit(&mut *tx, audit).await?;
                        tx.commit().await.map_err(db_err("session"))?;
                        Ok(RotateOutcome::Rotated(row.into()))
                    }
                    None => {
                        tx.rollback().await.map_err(db_err("session"))?;
                        Ok(RotateOutcome::Rejected(self.get_session(id).await?))
                    }
                }
            }

            async fn revoke_session(&self, id: SessionId, reason: &str, now: DateTime<Utc>, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("session"))?;
                let r = sqlx::query(
                    "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2), revoked_reason = COALESCE(revoked_reason, $3) WHERE id = $1",
                )
                .bind(id.0)
                .bind(now)
                .bind(reason)
                .execute(&mut *tx)
                .await
                .map_err(db_err("session"))?;
                one_row("session", r.rows_affected())?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("session"))
            }

            async fn revoke_user_sessions(
                &self,
                user_id: UserId,
                keep: Option<SessionId>,
                reason: &str,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> Result<u64> {
                let mut tx = self.write.begin().await.map_err(db_err("session"))?;
                let n = revoke_sessions_of(&mut *tx, user_id, keep, reason, now).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("session"))?;
                Ok(n)
            }
        }

        #[async_trait]
        impl RoleStore for $store {
            async fn grant_role(&self, grant: &RoleGrant, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("role grant"))?;
                insert_grant(&mut *tx, grant).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("role grant"))
            }

            async fn revoke_role(&self, user_id: UserId, role: Role, scope: RoleScope, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("role grant"))?;
                if role == Role::Admin && scope == RoleScope::Global {
                    ensure_platform_admin_remains(&mut tx, user_id).await?;
                }
                let r = match scope {
                    RoleScope::Global => sqlx::query(
                        "DELETE FROM role_grants WHERE user_id = $1 AND role = $2 AND scope_org_id IS NULL",
                    )
                    .bind(user_id.0)
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await,
                    RoleScope::Org(org) => sqlx::query(
                        "DELETE FROM role_grants WHERE user_id = $1 AND role = $2 AND scope_org_id = $3",
                    )
                    .bind(user_id.0)
                    .bind(role.as_str())
                    .bind(org.0)
                    .execute(&mut *tx)
                    .await,
                }
                .map_err(db_err("role grant"))?;
                one_row("role grant", r.rows_affected())?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("role grant"))?;
                Ok(())
            }

            async fn list_roles(&self, user_id: UserId) -> Result<Vec<RoleGrant>> {
                sqlx::query_as::<_, RoleGrantRow>(
                    "SELECT user_id, role, scope_org_id, granted_by, granted_at FROM role_grants \
                     WHERE user_id = $1 ORDER BY granted_at, role",
                )
                .bind(user_id.0)
                .fetch_all(&self.read)
                .await
                .map_err(db_err("role grant"))?
                .into_iter()
                .map(RoleGrantRow::into_grant)
                .collect()
            }
        }

        fn push_org_filter<'a>(q: &mut QueryBuilder<'a, $db>, f: &'a OrgFilter) {
            q.push(" WHERE 1=1");
            if let Some(m) = f.member {
                q.push(" AND EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = organizations.id AND m.user_id = ")
                    .push_bind(m.0)
                    .push(")");
            }
            if let Some(t) = f.org_type {
                q.push(" AND org_type = ").push_bind(t.as_str());
            }
            if let Some(s) = &f.search {
                let pat = like_pattern(s);
                q.push(" AND (LOWER(name) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR slug LIKE ").push_bind(pat).push(" ESCAPE '\\')");
            }
        }

        /// Fails with `Conflict` when `user` is the last active platform administrator. The
        /// admins' grant and user rows are locked (PostgreSQL), so two administrators
        /// removing, demoting or suspending each other at once cannot both pass.
        async fn ensure_platform_admin_remains(
            tx: &mut sqlx::Transaction<'_, $db>,
            user: UserId,
        ) -> Result<()> {
            let admins: Vec<Uuid> = sqlx::query_scalar(concat!(
                "SELECT g.user_id FROM role_grants g JOIN users u ON u.id = g.user_id ",
                "WHERE g.role = 'admin' AND g.scope_org_id IS NULL AND u.status = 'active'", $for_update
            ))
            .fetch_all(&mut **tx)
            .await
            .map_err(db_err("role grant"))?;
            if admins == [user.0] {
                return Err(StoreError::new(
                    cyberhub_domain::ErrorKind::Conflict,
                    "this is the last active platform administrator: grant another user the admin role first",
                ));
            }
            Ok(())
        }

        /// Fails with `Conflict` when `user` is the organization's only admin.
        async fn ensure_not_last_admin(
            tx: &mut sqlx::Transaction<'_, $db>,
            org: OrgId,
            user: UserId,
        ) -> Result<()> {
            let admins: Vec<Uuid> = sqlx::query_scalar(concat!(
                "SELECT user_id FROM memberships WHERE org_id = $1 AND role = 'admin'", $for_update
            ))
            .bind(org.0)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_err("membership"))?;
            if admins.len() == 1 && admins.first() == Some(&user.0) {
                return Err(StoreError::new(
                    cyberhub_domain::ErrorKind::Conflict,
                    "an organization needs at least one admin",
                ));
            }
            Ok(())
        }

        async fn insert_membership<'c, E>(ex: E, m: &Membership) -> Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            sqlx::query("INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)")
                .bind(m.org_id.0)
                .bind(m.user_id.0)
                .bind(m.role.as_str())
                .bind(m.joined_at)
                .execute(ex)
                .await
                .map_err(db_err("membership"))?;
            Ok(())
        }

        #[async_trait]
        impl OrgStore for $store {
            async fn create_org(&self, org: &Organization, creator: UserId, now: DateTime<Utc>, audit: &AuditEvent) -> Result<()> {
                let org = org.clone().validated()?;
                let mut tx = self.write.begin().await.map_err(db_err("organization"))?;
                sqlx::query(concat!(
                    "INSERT INTO organizations (", org_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(org.id.0)
                .bind(&org.name)
                .bind(&org.slug)
                .bind(org.org_type.as_str())
                .bind(&org.description)
                .bind(&org.website)
                .bind(&org.country)
                .bind(org.created_at)
                .bind(org.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("organization"))?;
                sqlx::query("INSERT INTO memberships (org_id, user_id, role, joined_at) VALUES ($1, $2, 'admin', $3)")
                    .bind(org.id.0)
                    .bind(creator.0)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("organization creator"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("organization"))?;
                Ok(())
            }

            async fn get_org(&self, slug: &str) -> Result<Organization> {
                sqlx::query_as::<_, OrgRow>(concat!("SELECT ", org_cols!(), " FROM organizations WHERE slug = $1"))
                    .bind(slug)
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("organization"))?
                    .into_org()
            }

            async fn get_org_by_id(&self, id: OrgId) -> Result<Organization> {
                sqlx::query_as::<_, OrgRow>(concat!("SELECT ", org_cols!(), " FROM organizations WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("organization"))?
                    .into_org()
            }

            async fn get_org_as_member(&self, slug: &str, user: UserId) -> Result<(Organization, OrgRole)> {
                let org = self.get_org(slug).await?;
                let m = self.get_member(org.id, user).await.map_err(|e| {
                    if e.kind() == cyberhub_domain::ErrorKind::NotFound {
                        StoreError::not_found("organization")
                    } else {
                        e
                    }
                })?;
                Ok((org, m.role))
            }

            async fn list_orgs(&self, filter: &OrgFilter, page: Page) -> Result<PageResult<Organization>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM organizations");
                push_org_filter(&mut count_q, filter);
                let mut items_q = QueryBuilder::<$db>::new(concat!("SELECT ", org_cols!(), " FROM organizations"));
                push_org_filter(&mut items_q, filter);
                items_q.push(" ORDER BY name, id");
                let (total, rows) = count_and_page::<OrgRow>(&self.read, "organization", page, count_q, items_q).await?;
                let items = rows.into_iter().map(OrgRow::into_org).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }

            async fn update_org(&self, id: OrgId, patch: &OrgPatch, now: DateTime<Utc>, audit: &AuditEvent) -> Result<Organization> {
                let patch = patch.clone().validated()?;
                let mut tx = self.write.begin().await.map_err(db_err("organization"))?;
                let mut org = sqlx::query_as::<_, OrgRow>(concat!(
                    "SELECT ", org_cols!(), " FROM organizations WHERE id = $1", $for_update
                ))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("organization"))?
                .into_org()?;
                org.apply(&patch, now);
                sqlx::query(
                    "UPDATE organizations SET name = $2, org_type = $3, description = $4, website = $5, \
                     country = $6, updated_at = $7 WHERE id = $1",
                )
                .bind(id.0)
                .bind(&org.name)
                .bind(org.org_type.as_str())
                .bind(&org.description)
                .bind(&org.website)
                .bind(&org.country)
                .bind(org.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("organization"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("organization"))?;
                Ok(org)
            }

            async fn delete_org(&self, id: OrgId, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("organization"))?;
                delete_by_id(&mut *tx, "DELETE FROM organizations WHERE id = $1", id.0, "organization").await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("organization"))
            }

            async fn add_member(&self, m: &Membership, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("membership"))?;
                insert_membership(&mut *tx, m).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("membership"))
            }

            async fn update_member(&self, org: OrgId, user: UserId, role: OrgRole, audit: &AuditEvent) -> Result<Membership> {
                let mut tx = self.write.begin().await.map_err(db_err("membership"))?;
                if role != OrgRole::Admin {
                    ensure_not_last_admin(&mut tx, org, user).await?;
                }
                let row = sqlx::query_as::<_, MembershipRow>(
                    "UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2 \
                     RETURNING org_id, user_id, role, joined_at",
                )
                .bind(org.0)
                .bind(user.0)
                .bind(role.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("membership"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("membership"))?;
                row.into_membership()
            }

            async fn remove_member(&self, org: OrgId, user: UserId, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("membership"))?;
                ensure_not_last_admin(&mut tx, org, user).await?;
                let r = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(org.0)
                    .bind(user.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("membership"))?;
                if r.rows_affected() == 0 {
                    return Err(StoreError::not_found("membership"));
                }
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("membership"))?;
                Ok(())
            }

            async fn get_member(&self, org: OrgId, user: UserId) -> Result<Membership> {
                sqlx::query_as::<_, MembershipRow>(
                    "SELECT org_id, user_id, role, joined_at FROM memberships WHERE org_id = $1 AND user_id = $2",
                )
                .bind(org.0)
                .bind(user.0)
                .fetch_one(&self.read)
                .await
                .map_err(db_err("membership"))?
                .into_membership()
            }

            async fn list_members(&self, org: OrgId, page: Page) -> Result<PageResult<Membership>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM memberships WHERE org_id = ");
                count_q.push_bind(org.0);
                let mut items_q = QueryBuilder::<$db>::new(
                    "SELECT org_id, user_id, role, joined_at FROM memberships WHERE org_id = ",
                );
                items_q.push_bind(org.0).push(" ORDER BY joined_at, user_id");
                let (total, rows) =
                    count_and_page::<MembershipRow>(&self.read, "membership", page, count_q, items_q).await?;
                let items = rows.into_iter().map(MembershipRow::into_membership).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }

            async fn shared_orgs(&self, user: UserId, other: UserId) -> Result<Vec<(OrgId, OrgRole)>> {
                let rows: Vec<(Uuid, String)> = sqlx::query_as(
                    "SELECT a.org_id, a.role FROM memberships a JOIN memberships b ON a.org_id = b.org_id \
                     WHERE a.user_id = $1 AND b.user_id = $2",
                )
                .bind(user.0)
                .bind(other.0)
                .fetch_all(&self.read)
                .await
                .map_err(db_err("membership"))?;
                rows.into_iter()
                    .map(|(o, r)| Ok((o.into(), r.parse().map_err(|e| StoreError::corrupt("member role", e))?)))
                    .collect()
            }

            async fn memberships_of(&self, user: UserId) -> Result<Vec<(Organization, OrgRole)>> {
                #[derive(sqlx::FromRow)]
                struct Joined {
                    #[sqlx(flatten)]
                    org: OrgRow,
                    member_role: String,
                }
                let rows: Vec<Joined> = sqlx::query_as(
                    "SELECT o.id, o.name, o.slug, o.org_type, o.description, o.website, o.country, o.created_at, \
                     o.updated_at, m.role AS member_role FROM organizations o JOIN memberships m ON m.org_id = o.id \
                     WHERE m.user_id = $1 ORDER BY o.name",
                )
                .bind(user.0)
                .fetch_all(&self.read)
                .await
                .map_err(db_err("membership"))?;
                rows.into_iter()
                    .map(|j| {
                        let role = j.member_role.parse().map_err(|e| StoreError::corrupt("member role", e))?;
                        Ok((j.org.into_org()?, role))
                    })
                    .collect()
            }
        }

        fn push_invitation_filter<'a>(q: &mut QueryBuilder<'a, $db>, f: &'a InvitationFilter) {
            q.push(" WHERE 1=1");
            if let Some(o) = f.org {
                q.push(" AND i.org_id = ").push_bind(o.0);
            }
            if let Some(u) = f.user {
                q.push(" AND i.user_id = ").push_bind(u.0);
            }
            if let Some(t) = f.open_at {
                q.push(" AND i.status = 'pending' AND i.expires_at > ").push_bind(t);
            }
        }

        macro_rules! invitation_select {
            () => {
                "SELECT i.id, i.org_id, o.slug, o.name AS org_name, i.user_id, i.role, i.invited_by, i.status, \
                 i.created_at, i.expires_at, i.decided_at FROM invitations i JOIN organizations o ON o.id = i.org_id"
            };
        }

        async fn lock_invitation(
            tx: &mut sqlx::Transaction<'_, $db>,
            id: InvitationId,
        ) -> Result<Invitation> {
            sqlx::query_as::<_, InvitationRow>(concat!(invitation_select!(), " WHERE i.id = $1", $for_update_of_i))
                .bind(id.0)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err("invitation"))?
                .into_invitation()
        }

        async fn set_invitation_status(
            tx: &mut sqlx::Transaction<'_, $db>,
            id: InvitationId,
            status: InvitationStatus,
            now: DateTime<Utc>,
        ) -> Result<()> {
            sqlx::query("UPDATE invitations SET status = $2, decided_at = $3 WHERE id = $1 AND status = 'pending'")
                .bind(id.0)
                .bind(status.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(db_err("invitation"))?;
            Ok(())
        }

        fn not_open(inv: &Invitation, now: DateTime<Utc>) -> StoreError {
            StoreError::new(
                cyberhub_domain::ErrorKind::Conflict,
                format!("this invitation is {}, no longer pending", inv.clone().at(now).status),
            )
        }

        #[async_trait]
        impl InvitationStore for $store {
            async fn create_invitation(&self, inv: &Invitation, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("invitation"))?;
                let member: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(inv.organization_id.0)
                    .bind(inv.user_id.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("membership"))?;
                if member > 0 {
                    return Err(StoreError::new(cyberhub_domain::ErrorKind::AlreadyExists, "this user is already a member"));
                }
                // One open invitation per (organization, user): a lapsed one makes way.
                sqlx::query(
                    "UPDATE invitations SET status = 'expired', decided_at = expires_at \
                     WHERE org_id = $1 AND user_id = $2 AND status = 'pending' AND expires_at <= $3",
                )
                .bind(inv.organization_id.0)
                .bind(inv.user_id.0)
                .bind(inv.created_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("invitation"))?;
                sqlx::query(
                    "INSERT INTO invitations (id, org_id, user_id, role, invited_by, status, created_at, expires_at, decided_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(inv.id.0)
                .bind(inv.organization_id.0)
                .bind(inv.user_id.0)
                .bind(inv.role.as_str())
                .bind(inv.invited_by.map(|u| u.0))
                .bind(inv.status.as_str())
                .bind(inv.created_at)
                .bind(inv.expires_at)
                .bind(inv.decided_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("invitation"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("invitation"))
            }

            async fn get_invitation(&self, id: InvitationId) -> Result<Invitation> {
                sqlx::query_as::<_, InvitationRow>(concat!(invitation_select!(), " WHERE i.id = $1"))
                    .bind(id.0)
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("invitation"))?
                    .into_invitation()
            }

            async fn list_invitations(&self, filter: &InvitationFilter, page: Page) -> Result<PageResult<Invitation>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM invitations i");
                push_invitation_filter(&mut count_q, filter);
                let mut items_q = QueryBuilder::<$db>::new(invitation_select!());
                push_invitation_filter(&mut items_q, filter);
                items_q.push(" ORDER BY i.created_at DESC, i.id");
                let (total, rows) =
                    count_and_page::<InvitationRow>(&self.read, "invitation", page, count_q, items_q).await?;
                let items = rows.into_iter().map(InvitationRow::into_invitation).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }

            async fn accept_invitation(
                &self,
                id: InvitationId,
                user: UserId,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> Result<Membership> {
                let mut tx = self.write.begin().await.map_err(db_err("invitation"))?;
                let inv = lock_invitation(&mut tx, id).await?;
                if inv.user_id != user {
                    return Err(StoreError::not_found("invitation"));
                }
                if !inv.is_open(now) {
                    return Err(not_open(&inv, now));
                }
                set_invitation_status(&mut tx, id, InvitationStatus::Accepted, now).await?;
                let m = Membership { org_id: inv.organization_id, user_id: user, role: inv.role, joined_at: now };
                insert_membership(&mut *tx, &m).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("invitation"))?;
                Ok(m)
            }

            async fn close_invitation(
                &self,
                id: InvitationId,
                status: InvitationStatus,
                now: DateTime<Utc>,
                audit: &AuditEvent,
            ) -> Result<Invitation> {
                if !matches!(status, InvitationStatus::Declined | InvitationStatus::Revoked) {
                    return Err(StoreError::new(
                        cyberhub_domain::ErrorKind::Validation,
                        "an invitation is closed as declined or revoked",
                    ));
                }
                let mut tx = self.write.begin().await.map_err(db_err("invitation"))?;
                let mut inv = lock_invitation(&mut tx, id).await?;
                if !inv.is_open(now) {
                    return Err(not_open(&inv, now));
                }
                set_invitation_status(&mut tx, id, status, now).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("invitation"))?;
                inv.status = status;
                inv.decided_at = Some(now);
                Ok(inv)
            }
        }

        fn push_content_filter<'a>(q: &mut QueryBuilder<'a, $db>, f: &'a ContentFilter) {
            q.push(" WHERE 1=1");
            if let Some(t) = f.content_type {
                q.push(" AND content_type = ").push_bind(t.as_str());
            }
            if let Some(t) = f.track {
                q.push(" AND track = ").push_bind(t.as_str());
            }
            if let Some(d) = f.difficulty {
                q.push(" AND difficulty = ").push_bind(d.as_str());
            }
            if let Some(s) = &f.search {
                let pat = like_pattern(s);
                q.push(" AND (LOWER(title) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR LOWER(description) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
                q.push(" OR content_id LIKE ").push_bind(pat).push(" ESCAPE '\\')");
            }
        }

        async fn write_content<'c, E>(ex: E, item: &ContentItem, insert: bool) -> Result<()>
        where
            E: sqlx::Executor<'c, Database = $db>,
        {
            let sql = if insert {
                concat!(
                    "INSERT INTO content_items (", content_cols!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                )
            } else {
                "UPDATE content_items SET content_type = $3, title = $4, description = $5, track = $6, \
                 difficulty = $7, tags = $8, estimated_minutes = $9, updated_at = $11 WHERE id = $1 AND content_id = $2 \
                 AND created_at = $10"
            };
            let r = sqlx::query(sql)
                .bind(item.id.0)
                .bind(&item.content_id)
                .bind(item.content_type.as_str())
                .bind(&item.title)
                .bind(&item.description)
                .bind(item.track.map(|t| t.as_str()))
                .bind(item.difficulty.map(|d| d.as_str()))
                .bind(Json(&item.tags))
                .bind(item.estimated_minutes.map(i64::from))
                .bind(item.created_at)
                .bind(item.updated_at)
                .execute(ex)
                .await
                .map_err(db_err("content item"))?;
            one_row("content item", r.rows_affected())
        }

        #[async_trait]
        impl ContentStore for $store {
            async fn insert_content(&self, item: &ContentItem, audit: &AuditEvent) -> Result<()> {
                let item = item.clone().validated()?;
                let mut tx = self.write.begin().await.map_err(db_err("content item"))?;
                write_content(&mut *tx, &item, true).await?;
                enqueue_index(&mut *tx, item.id, item.updated_at).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("content item"))
            }

            async fn get_content(&self, id: ContentUuid) -> Result<ContentItem> {
                sqlx::query_as::<_, ContentRow>(concat!("SELECT ", content_cols!(), " FROM content_items WHERE id = $1"))
                    .bind(id.0)
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("content item"))?
                    .into_item()
            }

            async fn get_content_by_key(&self, content_id: &str) -> Result<ContentItem> {
                sqlx::query_as::<_, ContentRow>(concat!(
                    "SELECT ", content_cols!(), " FROM content_items WHERE content_id = $1"
                ))
                .bind(content_id)
                .fetch_one(&self.read)
                .await
                .map_err(db_err("content item"))?
                .into_item()
            }

            async fn contents_by_keys(&self, content_ids: &[String]) -> Result<Vec<ContentItem>> {
                let mut out = Vec::with_capacity(content_ids.len());
                for chunk in content_ids.chunks(500) {
                    let mut q = QueryBuilder::<$db>::new(concat!(
                        "SELECT ", content_cols!(), " FROM content_items WHERE content_id IN ("
                    ));
                    let mut sep = q.separated(", ");
                    for key in chunk {
                        sep.push_bind(key.as_str());
                    }
                    q.push(")");
                    let rows: Vec<ContentRow> =
                        q.build_query_as().fetch_all(&self.read).await.map_err(db_err("content item"))?;
                    for r in rows {
                        out.push(r.into_item()?);
                    }
                }
                Ok(out)
            }

            async fn contents_by_ids(&self, ids: &[ContentUuid]) -> Result<Vec<ContentItem>> {
                let mut out = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(500) {
                    let mut q = QueryBuilder::<$db>::new(concat!(
                        "SELECT ", content_cols!(), " FROM content_items WHERE id IN ("
                    ));
                    let mut sep = q.separated(", ");
                    for id in chunk {
                        sep.push_bind(id.0);
                    }
                    q.push(")");
                    let rows: Vec<ContentRow> =
                        q.build_query_as().fetch_all(&self.read).await.map_err(db_err("content item"))?;
                    for r in rows {
                        out.push(r.into_item()?);
                    }
                }
                Ok(out)
            }

            async fn update_content(&self, id: ContentUuid, patch: &ContentPatch, now: DateTime<Utc>, audit: &AuditEvent) -> Result<ContentItem> {
                let patch = patch.clone().validated()?;
                let mut tx = self.write.begin().await.map_err(db_err("content item"))?;
                let mut item = sqlx::query_as::<_, ContentRow>(concat!(
                    "SELECT ", content_cols!(), " FROM content_items WHERE id = $1", $for_update
                ))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("content item"))?
                .into_item()?;
                item.apply(&patch, now);
                write_content(&mut *tx, &item, false).await?;
                enqueue_index(&mut *tx, item.id, now).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("content item"))?;
                Ok(item)
            }

            async fn delete_content(&self, id: ContentUuid, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("content item"))?;
                let r = sqlx::query("DELETE FROM content_items WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("content item"))?;
                one_row("content item", r.rows_affected())?;
                enqueue_index(&mut *tx, id, audit.created_at).await?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("content item"))
            }

            async fn list_content(&self, filter: &ContentFilter, page: Page) -> Result<PageResult<ContentItem>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM content_items");
                push_content_filter(&mut count_q, filter);
                let mut items_q = QueryBuilder::<$db>::new(concat!("SELECT ", content_cols!(), " FROM content_items"));
                push_content_filter(&mut items_q, filter);
                items_q.push(" ORDER BY title, id");
                let (total, rows) =
                    count_and_page::<ContentRow>(&self.read, "content item", page, count_q, items_q).await?;
                let items = rows.into_iter().map(ContentRow::into_item).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }

            async fn count_content(&self) -> Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM content_items")
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("content item"))?;
                Ok(total(n))
            }
        }

        async fn enqueue_index<'e, E>(ex: E, id: ContentUuid, at: DateTime<Utc>) -> Result<()>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            sqlx::query("INSERT INTO index_outbox (content_uuid, created_at) VALUES ($1, $2)")
                .bind(id.0)
                .bind(at)
                .execute(ex)
                .await
                .map_err(db_err("index outbox"))?;
            Ok(())
        }

        #[async_trait]
        impl IndexOutbox for $store {
            async fn claim_index_events(
                &self,
                worker: &str,
                limit: u32,
                now: DateTime<Utc>,
                lease: chrono::Duration,
            ) -> Result<Vec<IndexEvent>> {
                let now_ms = now.timestamp_millis();
                let until_ms = (now + lease).timestamp_millis();
                let mut tx = self.write.begin().await.map_err(db_err("index outbox"))?;
                // Claims are serialised (PostgreSQL: a transaction-scoped advisory lock;
                // SQLite: its single writer), so two claims never see the same free item.
                sqlx::query($claim_lock).execute(&mut *tx).await.map_err(db_err("index outbox"))?;
                let rows: Vec<(i64, Uuid, i64)> = sqlx::query_as(concat!(
                    "UPDATE index_outbox SET leased_by = $1, leased_until_ms = $2, attempts = attempts + 1 ",
                    "WHERE id IN (SELECT o.id FROM index_outbox o ",
                    "WHERE (o.leased_until_ms IS NULL OR o.leased_until_ms <= $3) ",
                    "AND NOT EXISTS (SELECT 1 FROM index_outbox b WHERE b.content_uuid = o.content_uuid ",
                    "AND b.leased_by IS NOT NULL AND b.leased_until_ms > $3) ",
                    "ORDER BY o.id LIMIT $4", $skip_locked, ") ",
                    "RETURNING id, content_uuid, attempts"
                ))
                .bind(worker)
                .bind(until_ms)
                .bind(now_ms)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err("index outbox"))?;
                tx.commit().await.map_err(db_err("index outbox"))?;
                let mut events: Vec<IndexEvent> = rows
                    .into_iter()
                    .map(|(id, content, attempts)| IndexEvent {
                        id,
                        content: ContentUuid(content),
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    })
                    .collect();
                events.sort_by_key(|e| e.id);
                Ok(events)
            }

            async fn complete_index_events(&self, worker: &str, ids: &[i64]) -> Result<u64> {
                if ids.is_empty() {
                    return Ok(0);
                }
                let mut q = QueryBuilder::<$db>::new("DELETE FROM index_outbox WHERE leased_by = ");
                q.push_bind(worker).push(" AND id IN (");
                let mut sep = q.separated(", ");
                for id in ids {
                    sep.push_bind(*id);
                }
                q.push(")");
                let r = q.build().execute(&self.write).await.map_err(db_err("index outbox"))?;
                Ok(r.rows_affected())
            }

            async fn release_index_event(&self, worker: &str, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
                let error: String = error.chars().take(1000).collect();
                sqlx::query(
                    "UPDATE index_outbox SET leased_by = NULL, leased_until_ms = $1, last_error = $2 WHERE id = $3 AND leased_by = $4",
                )
                .bind(retry_at.timestamp_millis())
                .bind(error)
                .bind(id)
                .bind(worker)
                .execute(&self.write)
                .await
                .map_err(db_err("index outbox"))?;
                Ok(())
            }

            async fn enqueue_full_reindex(&self, now: DateTime<Utc>, audit: &AuditEvent) -> Result<u64> {
                let mut tx = self.write.begin().await.map_err(db_err("index outbox"))?;
                let r = sqlx::query("INSERT INTO index_outbox (content_uuid, created_at) SELECT id, $1 FROM content_items")
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("index outbox"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("index outbox"))?;
                Ok(r.rows_affected())
            }

            async fn index_backlog(&self) -> Result<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM index_outbox")
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("index outbox"))?;
                Ok(total(n))
            }
        }

        #[async_trait]
        impl InstanceRegistry for $store {
            async fn heartbeat(&self, i: &Instance) -> Result<()> {
                sqlx::query(
                    "INSERT INTO instances (id, service, shared_state, started_at_ms, seen_at_ms) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (id) DO UPDATE SET service = excluded.service, shared_state = excluded.shared_state, seen_at_ms = excluded.seen_at_ms",
                )
                .bind(&i.id)
                .bind(&i.service)
                .bind(i.shared_state)
                .bind(i.started_at.timestamp_millis())
                .bind(i.seen_at.timestamp_millis())
                .execute(&self.write)
                .await
                .map_err(db_err("instance"))?;
                Ok(())
            }

            async fn live_instances(&self, since: DateTime<Utc>) -> Result<Vec<Instance>> {
                let rows: Vec<(String, String, bool, i64, i64)> = sqlx::query_as(
                    "SELECT id, service, shared_state, started_at_ms, seen_at_ms FROM instances WHERE seen_at_ms >= $1 ORDER BY started_at_ms, id",
                )
                .bind(since.timestamp_millis())
                .fetch_all(&self.read)
                .await
                .map_err(db_err("instance"))?;
                let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
                Ok(rows
                    .into_iter()
                    .map(|(id, service, shared_state, started, seen)| Instance {
                        id,
                        service,
                        shared_state,
                        started_at: at(started),
                        seen_at: at(seen),
                    })
                    .collect())
            }

            async fn leave(&self, id: &str, before: DateTime<Utc>) -> Result<()> {
                sqlx::query("DELETE FROM instances WHERE id = $1 OR seen_at_ms < $2")
                    .bind(id)
                    .bind(before.timestamp_millis())
                    .execute(&self.write)
                    .await
                    .map_err(db_err("instance"))?;
                Ok(())
            }
        }

        #[async_trait]
        impl RetentionStore for $store {
            async fn purge(&self, r: &Retention) -> Result<Purged> {
                let sessions = sqlx::query(
                    "DELETE FROM sessions WHERE (revoked_at IS NOT NULL AND revoked_at < $1) OR expires_at < $1",
                )
                .bind(r.sessions_ended_before)
                .execute(&self.write)
                .await
                .map_err(db_err("session"))?
                .rows_affected();
                let analyses = sqlx::query(
                    "DELETE FROM personality_analyses WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
                     (PARTITION BY user_id ORDER BY analyzed_at DESC, id) AS n FROM personality_analyses) ranked \
                     WHERE n > $1)",
                )
                .bind(i64::from(r.analyses_per_user.max(1)))
                .execute(&self.write)
                .await
                .map_err(db_err("personality analysis"))?
                .rows_affected();
                let audit_rows = match r.audit_before {
                    Some(before) => sqlx::query("DELETE FROM audit_log WHERE created_at < $1")
                        .bind(before)
                        .execute(&self.write)
                        .await
                        .map_err(db_err("audit event"))?
                        .rows_affected(),
                    None => 0,
                };
                Ok(Purged { sessions, analyses, audit_rows })
            }
        }

        #[async_trait]
        impl PersonalityStore for $store {
            async fn save_personality(&self, user: UserId, at: DateTime<Utc>, analysis: &serde_json::Value, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("personality analysis"))?;
                sqlx::query("INSERT INTO personality_analyses (id, user_id, analyzed_at, analysis) VALUES ($1, $2, $3, $4)")
                    .bind(Uuid::new_v4())
                    .bind(user.0)
                    .bind(at)
                    .bind(Json(analysis))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("personality analysis"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("personality analysis"))
            }

            async fn latest_personality(&self, user: UserId) -> Result<Option<serde_json::Value>> {
                let row: Option<(Json<serde_json::Value>,)> = sqlx::query_as(
                    "SELECT analysis FROM personality_analyses WHERE user_id = $1 ORDER BY analyzed_at DESC, id LIMIT 1",
                )
                .bind(user.0)
                .fetch_optional(&self.read)
                .await
                .map_err(db_err("personality analysis"))?;
                Ok(row.map(|r| r.0 .0))
            }
        }

        fn push_progress_filter<'a>(q: &mut QueryBuilder<'a, $db>, f: &'a ProgressFilter) {
            q.push(" WHERE user_id = ").push_bind(f.user_id.0);
            if let Some(t) = f.content_type {
                q.push(" AND content_type = ").push_bind(t.as_str());
            }
            if let Some(s) = f.status {
                q.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(s) = &f.search {
                q.push(" AND LOWER(content_id) LIKE ").push_bind(like_pattern(s)).push(" ESCAPE '\\'");
            }
        }

        fn push_owner<'a>(q: &mut QueryBuilder<'a, $db>, owner: Option<UserId>) {
            if let Some(o) = owner {
                q.push(" AND user_id = ").push_bind(o.0);
            }
        }

        #[async_trait]
        impl ProgressStore for $store {
            async fn insert_progress(&self, p: &Progress) -> Result<()> {
                let p = p.clone().validated()?;
                sqlx::query(concat!(
                    "INSERT INTO progress (", progress_cols!(), ") ",
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(p.id.0)
                .bind(p.user_id.0)
                .bind(&p.content_id)
                .bind(p.content_type.as_str())
                .bind(p.status.as_str())
                .bind(p.completion_percentage)
                .bind(p.score)
                .bind(Json(&p.metadata))
                .bind(p.started_at)
                .bind(p.completed_at)
                .bind(p.created_at)
                .bind(p.updated_at)
                .execute(&self.write)
                .await
                .map_err(db_err("progress"))?;
                Ok(())
            }

            async fn get_progress(&self, id: ProgressId, owner: Option<UserId>) -> Result<Progress> {
                let mut q = QueryBuilder::<$db>::new(concat!("SELECT ", progress_cols!(), " FROM progress WHERE id = "));
                q.push_bind(id.0);
                push_owner(&mut q, owner);
                q.build_query_as::<ProgressRow>()
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_err("progress"))?
                    .into_progress()
            }

            async fn update_progress(
                &self,
                id: ProgressId,
                owner: Option<UserId>,
                patch: &ProgressPatch,
                now: DateTime<Utc>,
            ) -> Result<Progress> {
                let mut tx = self.write.begin().await.map_err(db_err("progress"))?;
                let mut q = QueryBuilder::<$db>::new(concat!("SELECT ", progress_cols!(), " FROM progress WHERE id = "));
                q.push_bind(id.0);
                push_owner(&mut q, owner);
                q.push($for_update);
                let mut p = q
                    .build_query_as::<ProgressRow>()
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err("progress"))?
                    .into_progress()?;
                p.apply(patch, now)?;
                sqlx::query(
                    "UPDATE progress SET status = $2, completion_percentage = $3, score = $4, metadata = $5, \
                     started_at = $6, completed_at = $7, updated_at = $8 WHERE id = $1",
                )
                .bind(p.id.0)
                .bind(p.status.as_str())
                .bind(p.completion_percentage)
                .bind(p.score)
                .bind(Json(&p.metadata))
                .bind(p.started_at)
                .bind(p.completed_at)
                .bind(p.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err("progress"))?;
                tx.commit().await.map_err(db_err("progress"))?;
                Ok(p)
            }

            async fn delete_progress(&self, id: ProgressId, owner: Option<UserId>, audit: &AuditEvent) -> Result<()> {
                let mut tx = self.write.begin().await.map_err(db_err("progress"))?;
                let mut q = QueryBuilder::<$db>::new("DELETE FROM progress WHERE id = ");
                q.push_bind(id.0);
                push_owner(&mut q, owner);
                let r = q.build().execute(&mut *tx).await.map_err(db_err("progress"))?;
                one_row("progress", r.rows_affected())?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err("progress"))
            }

            async fn content_popularity(&self, limit: u32) -> Result<Vec<cyberhub_domain::ContentPopularity>> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT content_id, \
                            CAST(SUM(CASE WHEN status <> 'not_started' THEN 1 ELSE 0 END) AS BIGINT) AS started, \
                            CAST(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS BIGINT) AS completed \
                     FROM progress GROUP BY content_id \
                     ORDER BY started DESC, completed DESC, content_id LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await
                .map_err(db_err("progress"))?;
                Ok(rows
                    .into_iter()
                    .map(|(content_id, started, completed)| cyberhub_domain::ContentPopularity {
                        content_id,
                        started: u64::try_from(started).unwrap_or(0),
                        completed: u64::try_from(completed).unwrap_or(0),
                    })
                    .collect())
            }

            async fn list_progress(&self, filter: &ProgressFilter, page: Page) -> Result<PageResult<Progress>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM progress");
                push_progress_filter(&mut count_q, filter);
                let mut items_q = QueryBuilder::<$db>::new(concat!("SELECT ", progress_cols!(), " FROM progress"));
                push_progress_filter(&mut items_q, filter);
                items_q.push(" ORDER BY ").push(filter.ordering.sql());
                let (total, rows) =
                    count_and_page::<ProgressRow>(&self.read, "progress", page, count_q, items_q).await?;
                let items = rows.into_iter().map(ProgressRow::into_progress).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }
        }

        fn push_audit_filter<'a>(q: &mut QueryBuilder<'a, $db>, f: &'a AuditFilter) {
            q.push(" WHERE 1=1");
            if let Some(a) = f.actor_id {
                q.push(" AND actor_id = ").push_bind(a.0);
            }
            if let Some(a) = f.action {
                q.push(" AND action = ").push_bind(a.as_str());
            }
            if let Some(r) = f.result {
                q.push(" AND result = ").push_bind(r.as_str());
            }
            if let Some(s) = f.since {
                q.push(" AND created_at >= ").push_bind(s);
            }
            if let Some(u) = f.until {
                q.push(" AND created_at < ").push_bind(u);
            }
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, e: &AuditEvent) -> Result<()> {
                insert_audit(&self.write, e).await
            }

            async fn list_audit(&self, filter: &AuditFilter, page: Page) -> Result<PageResult<AuditEvent>> {
                let mut count_q = QueryBuilder::<$db>::new("SELECT COUNT(*) FROM audit_log");
                push_audit_filter(&mut count_q, filter);
                let mut items_q = QueryBuilder::<$db>::new(concat!("SELECT ", audit_cols!(), " FROM audit_log"));
                push_audit_filter(&mut items_q, filter);
                items_q.push(" ORDER BY created_at DESC, id DESC");
                let (total, rows) =
                    count_and_page::<AuditRow>(&self.read, "audit event", page, count_q, items_q).await?;
                let items = rows.into_iter().map(AuditRow::into_event).collect::<Result<_>>()?;
                Ok(PageResult { items, total, page })
            }

            async fn audit_stats(&self, filter: &AuditFilter) -> Result<Vec<AuditCount>> {
                let mut q = QueryBuilder::<$db>::new("SELECT action, result, COUNT(*) AS count FROM audit_log");
                push_audit_filter(&mut q, filter);
                q.push(" GROUP BY action, result ORDER BY action, result");
                q.build_query_as::<AuditCountRow>()
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_err("audit event"))?
                    .into_iter()
                    .map(|r| {
                        Ok(AuditCount {
                            action: r.action.parse().map_err(|e| StoreError::corrupt("audit action", e))?,
                            result: r.result.parse().map_err(|e| StoreError::corrupt("audit result", e))?,
                            count: total(r.count),
                        })
                    })
                    .collect()
            }
        }

        #[async_trait]
        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn migrate(&self) -> Result<()> {
                sqlx::migrate!($migrations)
                    .run(&self.write)
                    .await
                    .map_err(StoreError::migration)?;
                Ok(())
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.read).await.map_err(db_err("database"))?;
                Ok(())
            }

            async fn close(&self) {
                // For PostgreSQL both handles are the same pool; closing twice is harmless.
                self.write.close().await;
                self.read.close().await;
            }
        }
    };
}

pub(crate) use impl_sql_store;
