//! One page of rows, for `GET …/rows` and `POST …/query`: authorize, plan,
//! read and charge, on one pooled connection off the async runtime.

use actix_web::HttpResponse;
use actix_web::http::header::CONTENT_TYPE;

use super::resolve::{Lookup, authorize_view, target};
use super::rows::{budget_for, limits};
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::CatalogCache;
use crate::data::cursor::CursorKey;
use crate::data::mask::MaskKey;
use crate::data::plan::{Limits, check_limit, plan_rows};
use crate::data::read::{Page, fetch_page, was_replaced};
use crate::data::result_cache::ResultCache;
use crate::data::{Format, Redact, RowsQuery};
use crate::db::{AnyConnection, Backend};
use crate::error::{Error, Result};
use crate::fair_use::{Allowance, Meter};
use crate::policy::{Action, Engine};

/// How many times a page is read again when its version is replaced mid-read.
const REREADS: u32 = 2;

pub(super) async fn run_page(
    state: &AppState,
    principal: Principal,
    note: Note,
    meter: Option<Meter>,
    slug: String,
    query: RowsQuery,
    format: Format,
) -> Result<HttpResponse> {
    // Until the caller's view of the dataset is known, no filter value is
    // kept: a refused probe of a masked column must not reach the log.
    note.update(|d| d.query = Some(query.audit_text_redacting(Redact::All)));
    let ctx = PageContext {
        note: note.clone(),
        mask_key: state.mask_key.clone(),
        cursor_key: state.cursor_key.clone(),
        limits: limits(state),
        backend: state.db.backend(),
        engine: state.policy.current(),
        cache: std::sync::Arc::clone(&state.result_cache),
        catalog: std::sync::Arc::clone(&state.catalog),
        principal,
        meter,
        slug,
        format,
    };
    let page: Page = state
        .db
        .run(move |conn| {
            // A version switched in between resolving the dataset and reading
            // it (an import through another instance dropped the old table)
            // is read again from the new version: the caller sees one whole
            // version, never the switch. Bounded, should imports come fast.
            let mut rereads = 0;
            loop {
                match ctx.read(conn, &query) {
                    Err(e) if was_replaced(&e) && rereads < REREADS => rereads += 1,
                    other => break other,
                }
            }
        })
        .await?;
    note.update(|d| {
        d.rows = i64::try_from(page.rows).ok();
        d.bytes = i64::try_from(page.body.len()).ok();
    });
    let mut res = HttpResponse::Ok();
    res.insert_header((CONTENT_TYPE, format.content_type()));
    if let Some(c) = &page.next_cursor {
        res.insert_header(("X-Next-Cursor", c.as_str()));
    }
    if let Some(t) = page.total {
        res.insert_header(("X-Total-Count", t.to_string()));
    }
    Ok(res.body(page.body))
}

/// What reading a page needs besides the connection and the query.
struct PageContext {
    note: Note,
    mask_key: MaskKey,
    cursor_key: CursorKey,
    limits: Limits,
    backend: Backend,
    engine: std::sync::Arc<Engine>,
    cache: std::sync::Arc<ResultCache>,
    catalog: std::sync::Arc<CatalogCache>,
    principal: Principal,
    meter: Option<Meter>,
    slug: String,
    format: Format,
}

impl PageContext {
    fn read(&self, conn: &mut AnyConnection, query: &RowsQuery) -> Result<Page> {
        let readable = authorize_view(
            conn,
            Lookup {
                catalog: &self.catalog,
                engine: &self.engine,
            },
            &self.principal,
            &self.note,
            &self.slug,
            Action::DataQuery,
            query,
        )?;
        let budget = budget_for(self.meter.clone(), readable.quota)?;
        // A row quota shortens the page to what is left of it, and a byte
        // quota to the rows whose bytes fit; the cursor goes on.
        let left = match &budget {
            Some(b) => b.remaining()?,
            None => Allowance::default(),
        };
        let shortened;
        let query = match left.rows {
            Some(left) => {
                let wanted = check_limit(query.limit, self.limits)?;
                let left = u32::try_from(left).unwrap_or(u32::MAX).max(1);
                let mut q = query.clone();
                q.limit = Some(wanted.min(left));
                shortened = q;
                &shortened
            }
            None => query,
        };
        let restriction = readable.view.restriction(&self.mask_key);
        let plan = plan_rows(
            target(&readable.version, self.backend, &restriction),
            query,
            self.format,
            Some(self.limits),
            &self.cursor_key,
        )?;
        let page = match (
            fetch_page(conn, &plan, &self.cursor_key, left.bytes, &self.cache)?,
            &budget,
        ) {
            (Some(page), _) => page,
            (None, Some(b)) => return Err(b.too_few_bytes(left.bytes.unwrap_or(0))),
            (None, None) => return Err(Error::internal("reading a page", "no page fits")),
        };
        // Counted here, off the async runtime: a shared store waits on the database.
        if let Some(b) = &budget {
            b.charge(page.rows as u64, page.body.len() as u64)?;
        }
        Ok(page)
    }
}
