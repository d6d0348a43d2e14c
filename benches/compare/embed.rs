//! Section `embed` of the comparison harness (see main.rs).

use crate::table::Table;
use crate::{BenchResult, Ctx};

/// Runs the section, adding its rows to `table`.
pub async fn run(_ctx: &Ctx, _table: &mut Table) -> BenchResult<()> {
    Ok(())
}
