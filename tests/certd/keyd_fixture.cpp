// The keyd test fixture, compiled into this executable too: certd's tests drive a real keyd.
#include "tests/keyd/fixture.cpp"
