//! The data that flows through vigie, at the bottom of every stage: typed values, decoded
//! records and assembled nodes, the compiled tables a grammar set becomes, and outcomes. It
//! imports no stage; every stage imports it.

pub mod node;
pub mod outcome;
pub mod schema;
pub mod span;
pub mod value;

pub use node::{alive, Linked, Node, NodeState, Record, Unit, COMPUTED_PROPERTIES};
pub use outcome::{sort_for_report, Details, ErrorCode, Kind, Outcome, Severity, Source, Subject};
pub use schema::{
    glob_match, DatePattern, Encoding, FieldDef, FieldType, GatherDef, Grammar, GrammarSet,
    GroupDef, Layout, LinkDef, Member, RecordDef, Side, SubjectOrder, ValuePath,
};
pub use span::Span;
pub use value::{decimal_text, iso_date, write_iso_date, Value};
