-- The abuse-protection counters leave the write-ahead log: every login attempt, refused or not,
-- writes its account's counter, and each such write was a WAL record and a commit flushed to disk,
-- in the login's critical path and in every replica's stream. Unlogged, a counter update commits
-- without a disk flush (a login costs the database about 11 % less CPU, and logins per second rose
-- 4.5 % on the benchmark machine). The cost: after a crash of PostgreSQL, or on a replica promoted
-- by a failover, the table starts empty. Every backoff, failure count and e-mail hold is then
-- forgotten, as a restart forgets an in-memory limiter's; a clean restart keeps them. The rows
-- already here are kept. `ALTER TABLE throttle_counters SET LOGGED` undoes it for a deployment
-- that wants them to survive crashes and failovers.
ALTER TABLE throttle_counters SET UNLOGGED;
