package authn

import "encoding/base64"

// The test instance, as the root's tests have it: Frontend API
// clerk.example.com.
const testFAPIHost = "clerk.example.com"

var (
	testPK    = "pk_live_" + base64.StdEncoding.EncodeToString([]byte(testFAPIHost+"$"))
	testDevPK = "pk_test_" + base64.StdEncoding.EncodeToString([]byte("foo-bar-13.clerk.accounts.dev$"))
)
