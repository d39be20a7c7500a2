#include <curl/curl.h>

// Swift cannot call C variadic functions, so each libcurl variadic entry point Tide uses gets a
// fixed-argument wrapper here, compiled by the C compiler with the right calling convention.
static inline CURLcode tide_curl_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode tide_curl_easy_setopt_pointer(CURL *easy, CURLoption option, const void *value) {
    return curl_easy_setopt(easy, option, value);
}
static inline CURLcode tide_curl_easy_getinfo_pointer(CURL *easy, CURLINFO info, void *out) {
    return curl_easy_getinfo(easy, info, out);
}
static inline CURLMcode tide_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}
