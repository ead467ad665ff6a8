// Package synth generates a realistic synthetic behavioural history for
// lapse: the data behind `lapse gen`, `make run` and the golden tests.
//
// # The model
//
// Every user gets latent traits when the generator starts, drawn from the
// user's own random stream:
//
//   - a usage tier (power 10%, regular 35%, light 55%) that sets the mean
//     number of sessions per day, with log-normal spread inside the tier;
//   - a spend level (log-normal order amounts with a per-user median), a cart
//     rate and a purchase-given-cart rate;
//   - a weekend preference (more or fewer sessions on Saturday and Sunday) and
//     a preferred hour of day (morning, lunch or evening), shifted later on
//     weekends;
//   - an email open rate and a daily hazard of starting to churn that depends
//     on the tier and on tenure (new users leave more often).
//
// About a third of the users exist when the history starts; the rest sign up
// on a uniformly drawn day. A user whose churn starts goes through a decline
// phase of 7 to 45 days (a quarter of churns are sudden and skip it): sessions,
// carts and purchases fade, while pricing views, cancel-page views and support
// tickets become much more likely. A fifth of the declines recover; the rest
// end in churn, after which the user emits nothing (not even email opens)
// until a possible reactivation (a small daily chance). Refunds are rare,
// follow a purchase by 1 to 14 days and carry the negative purchase amount.
// Support tickets and pricing views also happen to healthy users, so the
// precursors are evidence, not proof: a model that reads them beats recency
// alone but is far from perfect.
//
// Event types: session_start, page_view, feature_use, add_to_cart, purchase,
// refund, view_pricing, cancel_page, support_ticket, email_open.
//
// # Determinism and order
//
// Each user draws from its own PCG stream seeded from (Config.Seed, user
// index), so a user's history depends only on the seed and its index, not on
// how many other users there are. The generator walks the days in order and,
// for each day, sorts that day's events by second with a counting sort, so
// the output is sorted by time; events in the same second are ordered by
// user index and then by the order the user emitted them. Memory is the
// per-user state (about 200 bytes a user) plus one day of events, never the
// whole history.
//
// # Caveats
//
// Timestamps have one-second resolution and are in UTC. Users that exist at
// the start have their first event on the first day, so their tenure is
// truncated, as in any export that begins at a fixed date.
package synth
