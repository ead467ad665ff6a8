package serving

import (
	"errors"
	"net"
	"strings"
	"testing"
)

const (
	readTok  = "read-token-0123456789"
	writeTok = "write-token-0123456789"
	adminTok = "admin-token-0123456789"
)

func TestParseTokens(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  []Token
		err   string // substring of the error; "" for success
		leaks string // must not appear in the error
	}{
		{name: "OK", in: "# tokens\n\n" + readTok + " read\n  " + writeTok + "\twrite  \n" + adminTok + " admin\n",
			want: []Token{{readTok, RoleRead}, {writeTok, RoleWrite}, {adminTok, RoleAdmin}}},
		{name: "OKEmpty", in: "# none yet\n"},
		{name: "ErrRole", in: readTok + " root\n", err: `line 1: invalid tokens: role "root"`},
		{name: "ErrFields", in: "\n" + readTok + " read extra\n", err: "line 2: want \"TOKEN ROLE\", got 3 fields", leaks: readTok},
		{name: "ErrOneField", in: readTok + "\n", err: "got 1 fields", leaks: readTok},
		{name: "ErrShort", in: "tiny read\n", err: "line 1: invalid tokens: token shorter than 16", leaks: "tiny"},
		{name: "ErrNonASCII", in: "tökentökentökentöken read\n", err: "outside printable ASCII"},
		{name: "ErrDuplicate", in: readTok + " read\n" + readTok + " admin\n", err: "line 2: the token of line 1 again", leaks: readTok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokens(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrTokens) {
					t.Fatalf("error %v, want one containing %q and wrapping ErrTokens", err, tc.err)
				}
				if tc.leaks != "" && strings.Contains(err.Error(), tc.leaks) {
					t.Errorf("error %q quotes the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("token %d: got %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add(readTok + " read\n" + adminTok + " admin\n")
	f.Add("# c\n\nx y z\n")
	f.Add("\x00\xff read")
	f.Fuzz(func(t *testing.T, in string) {
		toks, err := ParseTokens(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrTokens) {
				t.Fatalf("error %v does not wrap ErrTokens", err)
			}
			return
		}
		// Every accepted token is valid and authenticates with its role.
		cfg := Config{Tokens: toks}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseTokens accepted %q but Validate says %v", in, err)
		}
		a := newAuthenticator(toks)
		for _, tok := range toks {
			if r, ok := a.role("Bearer " + tok.Secret); !ok || r != tok.Role {
				t.Fatalf("token %q: role %v %v, want %v", tok.Secret, r, ok, tok.Role)
			}
		}
	})
}

func TestAuthenticator(t *testing.T) {
	a := newAuthenticator([]Token{{readTok, RoleRead}, {writeTok, RoleWrite}, {adminTok, RoleAdmin}})
	cases := []struct {
		header string
		role   Role
		ok     bool
	}{
		{"Bearer " + readTok, RoleRead, true},
		{"bearer " + writeTok, RoleWrite, true},
		{"BEARER  " + adminTok + " ", RoleAdmin, true},
		{"Bearer " + readTok + "x", RoleNone, false},
		{"Bearer " + readTok[:len(readTok)-1], RoleNone, false},
		{"Basic " + readTok, RoleNone, false},
		{readTok, RoleNone, false},
		{"Bearer ", RoleNone, false},
		{"", RoleNone, false},
	}
	for _, tc := range cases {
		t.Run(tc.header, func(t *testing.T) {
			r, ok := a.role(tc.header)
			if r != tc.role || ok != tc.ok {
				t.Errorf("role(%q) = %v, %v; want %v, %v", tc.header, r, ok, tc.role, tc.ok)
			}
		})
	}
}

// TestAuthRoutes checks the role of every kind of route over HTTP.
func TestAuthRoutes(t *testing.T) {
	cfg := Config{Tokens: []Token{{readTok, RoleRead}, {writeTok, RoleWrite}, {adminTok, RoleAdmin}}}
	ev := `{"user_id":"alice","event":"login","timestamp":"2025-06-05T00:00:00Z"}`
	cases := []struct {
		name, method, target, body, token string
		status                            int
	}{
		{"healthz/OKNoToken", "GET", "/healthz", "", "", 200},
		{"readyz/OKNoToken", "GET", "/readyz", "", "", 200},
		{"metrics/OKNoToken", "GET", "/metrics", "", "", 200},
		{"openapi/OKNoToken", "GET", "/openapi.yaml", "", "", 200},
		{"user/ErrNoToken", "GET", "/v1/users/alice", "", "", 401},
		{"user/ErrUnknownToken", "GET", "/v1/users/alice", "", "nope-nope-nope-nope", 401},
		{"user/OKRead", "GET", "/v1/users/alice", "", readTok, 200},
		{"user/OKAdmin", "GET", "/v1/users/alice", "", adminTok, 200},
		{"segments/OKRead", "GET", "/v1/segments", "", readTok, 200},
		{"events/ErrRead", "POST", "/v1/events", ev, readTok, 403},
		{"events/OKWrite", "POST", "/v1/events", ev, writeTok, 200},
		{"optOut/ErrRead", "POST", "/v1/users/alice/opt-out", "", readTok, 403},
		{"optOut/OKWrite", "POST", "/v1/users/alice/opt-out", "", writeTok, 200},
		{"erase/ErrWrite", "DELETE", "/v1/users/alice", "", writeTok, 403},
		{"erase/OKAdmin", "DELETE", "/v1/users/alice", "", adminTok, 200},
		{"models/ErrWrite", "GET", "/v1/models", "", writeTok, 403},
		{"models/OKAdmin", "GET", "/v1/models", "", adminTok, 200},
		{"activate/ErrRead", "POST", "/v1/models/v2/activate", "", readTok, 403},
		{"activate/OKAdmin", "POST", "/v1/models/v2/activate", "", adminTok, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cfg)
			var hdr []string
			if tc.token != "" {
				hdr = []string{"Authorization", "Bearer " + tc.token}
			}
			w := f.do(tc.method, tc.target, tc.body, hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			switch tc.status {
			case 401:
				if e := decodeError(t, w); e.Code != CodeUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("code %q, WWW-Authenticate %q", e.Code, w.Header().Get("WWW-Authenticate"))
				}
			case 403:
				if e := decodeError(t, w); e.Code != CodeForbidden {
					t.Errorf("code %q, want forbidden", e.Code)
				}
			}
		})
	}
}

func TestCheckListener(t *testing.T) {
	cases := []struct {
		name       string
		addr       string
		withTokens bool
		wantErr    bool
	}{
		{"OKLoopback", "127.0.0.1:0", false, false},
		{"OKLoopbackV6", "[::1]:0", false, false},
		{"ErrAllInterfaces", "0.0.0.0:0", false, true},
		{"OKAllInterfacesWithTokens", "0.0.0.0:0", true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", tc.addr)
			if err != nil {
				t.Skipf("cannot listen on %s: %v", tc.addr, err)
			}
			defer ln.Close()
			err = CheckListener(ln, tc.withTokens)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrInsecureAddr)) {
				t.Errorf("CheckListener(%s, %v) = %v, want error %v", tc.addr, tc.withTokens, err, tc.wantErr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{MaxBodyBytes: -1, DefaultPageSize: 500, MaxPageSize: 100, Tokens: []Token{{"short", RoleRead}, {readTok, Role(9)}}}
	err := bad.Validate()
	for _, want := range []string{"MaxBodyBytes (-1)", "DefaultPageSize (500) must be <= MaxPageSize (100)", "Tokens[0]", "Tokens[1]: role"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
