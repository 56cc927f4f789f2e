// Package apikey holds the API keys of arbor's HTTP API: generating a key,
// the file that stores their hashes, and looking a presented key up.
//
// A key is "arb_" followed by 32 random bytes in unpadded base64url. The
// keys file stores only the SHA-256 of each key: a key has 256 bits of
// entropy, so a fast hash is enough, and the file reveals no key. The file
// is JSON lines, one key per line:
//
//	{"name":"pipeline","scope":"write","sha256":"<64 hex digits>"}
//
// name is 1 to 64 letters, digits, '-', '_' or '.', unique in the file;
// scope is read, write or admin (admin allows what write allows, write what
// read allows); sha256 is the hex SHA-256 of the whole key, "arb_"
// included, unique in the file. Empty lines and lines starting with # are
// ignored. A line that breaks these rules makes the whole file invalid.
package apikey
