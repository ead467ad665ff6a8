package serving

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// Role is what a bearer token may do. Roles are ordered: each includes the
// ones before it, so an admin token can also read and write.
type Role int

// The roles, from least to most powerful.
const (
	// RoleNone marks routes that need no token: health, readiness,
	// metrics and the OpenAPI document.
	RoleNone Role = iota
	// RoleRead reads scores, segments and segment exports.
	RoleRead
	// RoleWrite also sends events and opt-outs.
	RoleWrite
	// RoleAdmin also lists and activates models and erases users.
	RoleAdmin
)

var roleNames = [...]string{RoleNone: "none", RoleRead: "read", RoleWrite: "write", RoleAdmin: "admin"}

// String returns the role's name as written in a tokens file.
func (r Role) String() string {
	if r >= 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole returns the role named "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	for r := RoleRead; r <= RoleAdmin; r++ {
		if roleNames[r] == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("%w: role %q is not read, write or admin", ErrTokens, s)
}

// MinTokenLength is the shortest accepted token, in bytes: 16 random bytes
// written in hex are 32, so 16 already rules out passwords like "secret".
const MinTokenLength = 16

// Errors about token lists and listening addresses.
var (
	// ErrTokens means a tokens file or LAPSE_TOKENS value is malformed;
	// the wrapping error names the line.
	ErrTokens = errors.New("invalid tokens")
	// ErrInsecureAddr means the server was asked to listen on a
	// non-loopback address without any token configured.
	ErrInsecureAddr = errors.New("refusing to serve a non-loopback address without tokens")
)

// Token is one bearer token and its role.
type Token struct {
	// Secret is the token as clients send it after "Bearer ".
	Secret string
	// Role is what the token may do.
	Role Role
}

// ParseTokens reads a tokens list: one "TOKEN ROLE" pair a line, separated
// by spaces or tabs, with blank lines and lines starting with # ignored.
// Tokens are at least MinTokenLength printable ASCII characters without
// spaces; roles are read, write or admin; a token listed twice is an error.
// Errors wrap ErrTokens and name the line; they never quote a token.
func ParseTokens(r io.Reader) ([]Token, error) {
	var toks []Token
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("%w: line %d: want \"TOKEN ROLE\", got %d fields", ErrTokens, line, len(f))
		}
		if err := checkSecret(f[0]); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if prev, dup := seen[f[0]]; dup {
			return nil, fmt.Errorf("%w: line %d: the token of line %d again", ErrTokens, line, prev)
		}
		seen[f[0]] = line
		toks = append(toks, Token{Secret: f[0], Role: role})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", ErrTokens, line+1, err)
	}
	return toks, nil
}

// checkSecret validates one token.
func checkSecret(s string) error {
	if len(s) < MinTokenLength {
		return fmt.Errorf("%w: token shorter than %d characters", ErrTokens, MinTokenLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: token has a byte %#x outside printable ASCII", ErrTokens, c)
		}
	}
	return nil
}

// authenticator checks bearer tokens in constant time. It keeps only the
// SHA-256 of each token, and compares the hash of the presented token with
// every stored hash, so neither the length nor the position of a match
// shows in the timing.
type authenticator struct {
	hashes [][sha256.Size]byte
	roles  []Role
}

func newAuthenticator(toks []Token) *authenticator {
	a := &authenticator{}
	for _, t := range toks {
		a.hashes = append(a.hashes, sha256.Sum256([]byte(t.Secret)))
		a.roles = append(a.roles, t.Role)
	}
	return a
}

// enabled reports whether any token is configured.
func (a *authenticator) enabled() bool { return len(a.hashes) > 0 }

// role returns the role of the token in an Authorization header value, and
// false when the header is not "Bearer TOKEN" with a known token.
func (a *authenticator) role(header string) (Role, bool) {
	const prefix = "bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return RoleNone, false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	found := 0
	role := RoleNone
	for i := range a.hashes {
		eq := subtle.ConstantTimeCompare(h[:], a.hashes[i][:])
		found |= eq
		role = Role(subtle.ConstantTimeSelect(eq, int(a.roles[i]), int(role)))
	}
	return role, found == 1
}

// CheckListener returns ErrInsecureAddr when ln listens on a non-loopback
// address and withTokens is false: without tokens anyone who can reach the
// port could read every score and erase users.
func CheckListener(ln net.Listener, withTokens bool) error {
	if withTokens {
		return nil
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if ok && tcp.IP.IsLoopback() {
		return nil
	}
	if !ok && ln.Addr().Network() == "unix" {
		return nil // a unix socket is guarded by file permissions
	}
	return fmt.Errorf("%w: %s is reachable from other hosts; listen on 127.0.0.1 or configure tokens (--tokens-file or LAPSE_TOKENS)",
		ErrInsecureAddr, ln.Addr())
}
