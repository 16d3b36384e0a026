//! What vigie sends after an analysis: the CAS files for the organisms and the participations
//! (letters come next).

pub mod cas;
