// Package store is lapse's embedded store: one bbolt file holding the
// model versions with their reports, every user's score record and
// point-in-time feature state per version, opt-outs, experiments with
// their assignments, and the global control group. It is the only package
// that imports bbolt; serving and cmd/lapse reach it through interfaces
// they declare themselves.
//
// # Basics
//
//   - [Open] opens (or creates) the file. One process owns it: bbolt takes
//     an exclusive file lock, and a second process gets [ErrLocked] after
//     Options.Timeout (1 s by default) instead of hanging.
//   - Every method takes a context and runs in one bbolt transaction unless
//     its comment says otherwise; a method that returns an error has
//     written nothing.
//   - Values handed to callbacks (encoded states) are valid only during the
//     callback, as bbolt's own values are only valid inside their
//     transaction. Everything a method returns is a copy.
//
// # Layout
//
// Top-level buckets, keys and values:
//
//	meta          "format" -> "1"; "active" -> model version; "global_control" -> JSON lift.GlobalControl
//	models        version -> model.Encode JSON
//	reports       version -> report.json bytes
//	model_users   version -> number of score records (8 bytes, big endian)
//	scores        version (bucket) -> user id -> JSON model.Prediction
//	states        version (bucket) -> user id -> encoded features.State
//	optouts       user id -> RFC 3339 time of the opt-out
//	experiments   name -> JSON lift.Experiment
//	assignments   name (bucket) -> user id -> JSON lift.Assignment
//
// User ids are opaque bytes, so cursors visit them in byte order: the
// "user-id order" of exports and pages.
//
// # Saving a model
//
// [Store.SaveModel] writes a version's score records and states in
// batches of [Options.BatchSize] users per transaction, so that a million
// users do not need one huge transaction, and only then, in a last
// transaction, the model record (and the active pointer). A version exists
// once its model record does: a crash during a save leaves buckets without
// a model record, which the next Open (or a save of the same version)
// removes. Versions are immutable: saving an existing one is ErrExists.
//
// # Caveats
//
//   - Deleting a user (privacy erasure) removes its records from every
//     version and experiment and decrements the experiments' group counts;
//     bbolt reuses the freed pages but does not shrink the file.
//   - Options.NoSync trades durability for speed and is only for tests and
//     benchmarks.
package store
