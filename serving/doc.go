// Package serving is the HTTP API of lapse (`lapse serve`): per-user
// churn and purchase scores computed live from stored feature states,
// event ingestion, segment sizes and exports, model versions, opt-out and
// erasure, health, Prometheus metrics and its own OpenAPI document.
//
// serving imports features, model, gin and the Prometheus client. It
// reaches the store (serving/store, the only bbolt user) through the small
// interfaces in Deps, which it declares itself; cmd/lapse wires the store
// in, and tests use a fake.
//
// # Basics
//
//   - [New] builds a [Server] from a [Config] (zero fields are defaults),
//     [Deps] and a logger; [Server.Load] reads the active model;
//     [Server.Handler] is the API; [Server.Serve] runs it on a listener with
//     timeouts and graceful shutdown.
//   - One route table (routeTable in server.go) declares every route with
//     the least [Role] that may call it. openapi.yaml, embedded and served
//     at /openapi.yaml, describes each; a test compares the two.
//   - Every error response is {"error": {"code", "message"}} with the
//     status that the one table statusOf gives the [Code], 404 and 405 from
//     the router included. Handlers return errors; [Error] carries a code,
//     anything else is a logged 500 that says only "internal error".
//
// # Scoring
//
// The active model is cached in an atomic.Pointer together with the
// features.Featurizer of its Spec. A request loads the pointer once, so it
// finishes on the model it started with while POST
// /v1/models/{version}/activate swaps in another.
//
// GET /v1/users/{id} and POST /v1/scores compute scores on the fly: the
// user's stored features.State is decoded, its vector computed as of the
// request time (Config.Now) and scored. Nothing is written on reads, so a
// score always reflects every ingested event and the current time, and
// the stored score records stay what training computed. Users without a
// usable stored state (a store written without states, or a state built
// under another spec) get their stored record, marked "source": "stored". When the sender's clock ran ahead (events up to 5
// minutes in the future are accepted, as by the file readers) the as-of
// time is just after the user's latest event.
//
// A score carries the customer values of the model's BG/NBD and
// Gamma-Gamma part (model.CustomerValue): p_alive, expected purchases over
// the model's horizon H (JSON key expected_purchases_<H>d, see
// UserScore.MarshalJSON) and clv, computed live from the state's purchase
// days (features.Featurizer.PurchaseSummary, Model.UserValue) as of the
// same time as the vector: the numbers training stores for the same events
// and cutoff. They are null without a customer-value part, for users who
// never purchased, and for states stored in the format-1 encoding after
// their purchases were folded (they no longer know their purchase days).
//
// POST /v1/events reads the batch with the same features.Reader as files
// (JSON Lines), so validation, messages and duplicate handling are the
// same; one bad event rejects the batch, with every bad event listed by
// index and field. Accepted events are added to their users' states, each
// state is pruned to the longest window as of now (so it stays bounded:
// daily cells within the retention plus lifetime totals), and all are
// written in one durable write transaction.
//
// Segment sizes and exports read the score records stored by training for
// the active model (as of its as-of time): a segment is a batch snapshot,
// refreshed by the next training, so exports are consistent page to page.
// Exports leave out opted-out users and users held out as control (active
// experiments and the global control group), as the store reports them.
//
// # Experiments
//
// POST /v1/experiments creates a campaign experiment with
// [CreateExperiment], the function lapse experiment create calls too: the
// targeting rule (a segment, a risk band, a churn threshold or a user
// list) selects users from the active model's stored scores, suppressed
// users (opted out, the global control group, control users of active
// experiments) are left out, and the rest are split by the keyed hash of
// (name, salt, user id) of package lift, stratified on request. The
// assignments, with each user's scores at that time, are stored at once
// and never change. While the experiment is active, its control users are
// suppressed from segment exports; GET .../assignments?group=treatment is
// the send list, which also leaves out users suppressed since.
//
// GET /v1/experiments/{name}/lift ([LiftFromStates]) reads each assigned
// user's outcome (features.State.Outcome: activity, target event and
// purchase revenue in whole UTC days from the start) from the states of
// the active model, which ingested events keep current, and reports
// lift.Measure's statistics. A state keeps daily cells only for its
// retention (the longest window, at least 60 days) before its latest
// event, so old experiments are measured from event files with lapse
// lift instead (409 says so). Deps.Experiments may be nil: the experiment
// routes then answer 503.
//
// # Security
//
// With tokens (Config.Tokens, see [ParseTokens] for the file format),
// every /v1 route needs "Authorization: Bearer TOKEN" with a role at least
// the route's: read (scores, segments, experiments and their lift), write
// (events, opt-out), admin (models, erasure, creating and stopping
// experiments). Tokens are compared by SHA-256 digest with
// crypto/subtle, against every configured token. Without tokens, Serve
// refuses a listener that is not on a loopback address. Bodies are capped
// (Config.MaxBodyBytes, 413), as are batch sizes and page sizes; user ids
// are checked ([CheckID]) before any store access; a panic in a handler is
// a 500, never a crash.
//
// # Caveats
//
//   - Live events update the states of the active model version. After
//     activating another version, users are scored from that version's
//     states (as training stored them, plus events ingested while it was
//     active).
//   - Segment sizes are counted once per loaded model by scanning its
//     stored scores; exports scan in user-id order, so a page of a rare
//     segment may read many records.
//   - Latency metrics use the monotonic clock; only as-of times and event
//     validation read Config.Now.
package serving
