// Package password hashes and verifies passwords with argon2id, stored as
// PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>") so the cost
// parameters can be raised later and old hashes rehashed on the next login.
//
// Hashing is memory-hard on purpose, so a [Hasher] admits at most a fixed
// number of computations at once and makes the rest wait a bounded time
// before failing with [ErrBusy]: memory stays bounded under any load, and
// overload surfaces as an error the caller can map to resource_exhausted
// instead of as an out-of-memory kill.
package password
