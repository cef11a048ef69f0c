/*
 * sqlerr: SQLite result codes as -errno, the one mapping every SQLite user
 * of dataline can share (the handset's hstore uses it; server/store and
 * server/core/writer.c still carry their own copies of its first half).
 * Pure: only the SQLITE_* constants, no sqlite3 symbol, so lib/ and its
 * fuzzers need not link SQLite.
 */
#ifndef DATALINE_SQLERR_H
#define DATALINE_SQLERR_H

/*
 * RC (primary or extended code) as 0 (OK, ROW, DONE) or -errno:
 * CONSTRAINT -EEXIST, BUSY/LOCKED -EBUSY, NOMEM -ENOMEM, FULL -ENOSPC,
 * NOTADB/CORRUPT -EBADMSG (not a database, or a damaged one), READONLY
 * -EROFS, PERM/AUTH -EACCES, anything else -EIO. CANTOPEN is -EIO here:
 * the real reason is sqlite3_system_errno(), which needs the connection.
 */
int sqlerr_errno(int rc);

#endif
