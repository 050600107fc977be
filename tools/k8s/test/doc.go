// Package test holds `make k8s-test` (its code is in the test files).
package test
