/*
 * json_seeds.c - writes request bodies and JSON edge cases (taken from the unit tests of common/json_scan and of the
 * openai adapter's read) into a directory, one file per text, as seeds of fuzz_json and fuzz_openai_request.
 * Usage: fuzz_json_seeds DIR. Exit 0, or 1 on an I/O error.
 */
#include <stdio.h>
#include <string.h>

static const char *const seeds[] = {
    /* scanner: the grammar's corners, valid and not */
    "-12.5e+3",
    "1E400",
    "123456789012345678901234567890",
    "0.0001",
    "-0",
    "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
    "\"\\u00e9\\uD83D\\uDE00\"",
    "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
    " \t\r\n[ 1 , 2 ,[ ] ,{ } ] \n",
    "{\"a\":{\"b\":[1,{\"c\":null}]}}",
    "{\"a\":1,\"a\":2}",
    "[\"\\u0000\"]",
    "{\"\\u0000\":1}",
    "\"\\uD83D\\u0041\"",
    "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"",
    "[1,]",
    "{\"a\":1,}",
    "01",
    "1.",
    "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]",
    "{\"a~1b\":{\"m~0n\":[0,1,{\"/\":true}]}}",
    "{\"model\":\"m\",\"model\":\"n\"}",
    /* request bodies the openai read tests use */
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":16}",
    ("{\"messages\":[{\"content\":[{\"type\":\"text\",\"text\":\"abc\"},{\"type\":\"image_url\",\"image_url\":"
     "{\"url\":\"http://x\"}},{\"text\":7,\"text\":\"late\"},\"bare\",[{\"text\":\"in array\"}],{\"text\":\"d\\u00e9\"}]}]}"),
    "{\"messages\":[{\"content\":\"a\"}],\"messages\":[{\"content\":\"bbbbbbbb\"},{}]}",
    "{\"messages\":{\"content\":\"a\"},\"prompt\":\"xyz\",\"messages\":[{\"content\":\"b\"}]}",
    "{\"messages\":[],\"logprobs\":true,\"top_logprobs\":5,\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
    "{\"messages\":[],\"logprobs\":true,\"top_logprobs\":99999999999,\"logprobs\":false}",
    "{\"prompt\":[[1,2,3],[4]],\"logprobs\":3,\"model\":7}",
    "{\"prompt\":[\"ab\",[\"c\\n\",5],true,null,[],[[[1.5]]]]}",
    "{\"prompt\":[1,{\"a\":\"bbbb\"},2]}",
    "{\"prompt\":12,\"logprobs\":2.5}",
    "{\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}",
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}",
    "{\"messages\":[],\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":false}}",
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_json_seeds DIR\n");
        return 2;
    }
    for (size_t i = 0; i != sizeof(seeds) / sizeof(seeds[0]); ++i) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/seed-%zu.json", argv[1], i);
        FILE *f = fopen(path, "wb");
        size_t n = strlen(seeds[i]);
        if (f == NULL || fwrite(seeds[i], 1, n, f) != n || fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}
