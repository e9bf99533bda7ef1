//! Builders the migrations share: a cascading foreign key and a plain index, the two
//! statements almost every table of ours needs, and the `down` of new tables.

use sea_orm_migration::prelude::*;

/// A foreign key `name` from `from` (table, column) to `to` (table, column) whose rows
/// are deleted with the row they point at.
pub(crate) fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// `CREATE INDEX IF NOT EXISTS name ON table (columns…)`; `.unique()` on the result for a
/// unique one.
pub(crate) fn index<C: IntoIndexColumn>(
    name: &str,
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.if_not_exists().name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index
}

/// `DROP TABLE IF EXISTS` each of `tables`, in order (dependents first).
pub(crate) async fn drop_tables<T: IntoIden>(
    manager: &SchemaManager<'_>,
    tables: impl IntoIterator<Item = T>,
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).if_exists().to_owned())
            .await?;
    }
    Ok(())
}
