/*
 * mongo_probe.c: is MongoDB there, for sys.health (mongo.h). Server
 * selection runs the driver's hello handshake; its description gives the
 * type and round-trip time without another command.
 */
#include "mongo.h"

int
mongo_probe(
    const char *uri, int32_t timeout_ms, json_t **out, struct vsm_err *err)
{
	mongoc_server_description_t *sd = NULL;
	mongoc_client_t             *client;
	bson_error_t                 berr;
	int                          ret = -1;

	*out = NULL;
	if ((client = mongo_client_new(uri, timeout_ms, err)) == NULL)
		return (-1);
	if ((sd = mongoc_client_select_server(client, false, NULL, &berr)) ==
	    NULL) {
		vsm_err_set(err, "MongoDB: %s", berr.message);
		goto out;
	}
	*out = json_pack("{s:s, s:s, s:I}", "type",
	    mongoc_server_description_type(sd), "host",
	    mongoc_server_description_host(sd)->host_and_port, "rtt_ms",
	    (json_int_t)mongoc_server_description_round_trip_time(sd));
	if (*out == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (sd != NULL)
		mongoc_server_description_destroy(sd);
	mongo_client_free(client);
	return (ret);
}
