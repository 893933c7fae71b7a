# Tests: unit tests of the parsing pieces, integration tests that run the
# real daemon against fixture trees and talk to it with curl.
