//! What vigie sends after an analysis: the CAS files for the organisms and the participations,
//! and the letters to health professionals and doctors.

pub mod cas;
pub mod letters;
