module github.com/logoutflow/logoutflow/examples/authserver

go 1.26.0

replace github.com/logoutflow/logoutflow => ../..

replace github.com/logoutflow/logoutflow/metadata/pgstore => ../../metadata/pgstore

require (
	github.com/benbjohnson/clock v1.3.5
	github.com/chromedp/chromedp v0.23.1
	github.com/google/go-cmp v0.7.0
	github.com/jackc/pgx/v5 v5.13.0
	github.com/logoutflow/logoutflow v0.0.0-00010101000000-000000000000
	github.com/logoutflow/logoutflow/metadata/pgstore v0.0.0-00010101000000-000000000000
	golang.org/x/crypto v0.59.0
)

require (
	github.com/chromedp/cdproto v0.160.1 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
