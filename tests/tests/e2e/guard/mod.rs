//! The input guard end to end: ScreenText (answers and refusals), inbound
//! messages screened when stored with the verdict in every read, repeated
//! flags blocking AI processing for the customer, and the benchmark's
//! targets on the public labelled data.

mod blocking;
mod screen_text;
mod targets;
