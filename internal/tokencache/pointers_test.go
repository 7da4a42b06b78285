package tokencache

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/clerk-edge/clerk_auth/internal/session"
	"github.com/clerk-edge/clerk_auth/internal/testkit"
)

// pointerWords counts v's pointer-holding words (slots) and those that are
// not nil, following nothing: what the garbage collector reads when it
// scans the object holding v.
func pointerWords(v reflect.Value) (slots, live int) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		slots++
		if !v.IsNil() {
			live++
		}
	case reflect.String:
		slots++
		if v.Len() > 0 {
			live++
		}
	case reflect.Slice:
		slots++
		if !v.IsNil() {
			live++
		}
	case reflect.Interface:
		slots += 2 // type word and data word
		if !v.IsNil() {
			live++
		}
	case reflect.Struct:
		for i := range v.NumField() {
			s, l := pointerWords(v.Field(i))
			slots, live = slots+s, live+l
		}
	case reflect.Array:
		for i := range v.Len() {
			s, l := pointerWords(v.Index(i))
			slots, live = slots+s, live+l
		}
	}
	return slots, live
}

// realisticToken is the shape of a Clerk v2 session token with an active
// organization (bench_test.go's realisticClaims), its signature not checked.
func realisticToken() string {
	h := testkit.RawURL(`{"alg":"RS256","kid":"ins_2abcdefghijklmnopqrstuvwxyz","typ":"JWT","cat":"cl_B7d4PD111AAA"}`)
	p := testkit.RawURL(`{"azp":"https://app.example.com","exp":1767000050,"fea":"u:feature_a,u:feature_b,o:feature_c","fva":[3,-1],"iat":1767000000,"iss":"https://clerk.example.com","jti":"a1b2c3d4e5f6a7b8c9d0","nbf":1766999990,"o":{"fpm":"3,7","id":"org_2xYZabcdefghijklmnopqrstu","per":"manage,read,write","rol":"admin","slg":"acme-inc"},"pla":"u:free_user","sid":"sess_2abcdefghijklmnopqrstuvwxyz","sts":"active","sub":"user_2abcdefghijklmnopqrstuvwxyz","v":2}`)
	sig := make([]byte, 342)
	for i := range sig {
		sig[i] = 'A'
	}
	return h + "." + p + "." + string(sig)
}

// TestEntryPointers reports what a cache entry of a realistic token costs
// the garbage collector: its size, its pointer slots and how many are set,
// before and after its entitlements are read. Run with -v to see them
// (docs/performance.md, "The cache entry and the garbage collector").
func TestEntryPointers(t *testing.T) {
	d, err := Decode(realisticToken())
	if err != nil {
		t.Fatal(err)
	}
	e := Complete(d, nil)
	slots, live := pointerWords(reflect.ValueOf(e).Elem())
	t.Logf("entry: %d bytes, %d pointer slots, %d set", unsafe.Sizeof(*e), slots, live)
	// What docs/performance.md records; more is a regression to look at.
	if slots > 39 || live > 26 {
		t.Errorf("%d pointer slots, %d set: want at most 39 and 26", slots, live)
	}
	if e.Session.Entitlements().PermsValue == "" {
		t.Fatal("no permissions")
	}
	_, _ = e.Session.Placeholder(session.IdentityPlaceholders[0])
	slots, live = pointerWords(reflect.ValueOf(e).Elem())
	t.Logf("entry after entitlements and a placeholder read: %d pointer slots, %d set", slots, live)
}
