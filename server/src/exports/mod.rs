//! Workspace export: the column classification [`registry`], the
//! consistent read of an org's exported columns ([`read`]), and the ZIP
//! archive both `ExportWorkspace` and `ochre export` produce ([`archive`]).

pub mod archive;
pub mod drift;
pub mod operator;
pub mod read;
pub mod registry;
