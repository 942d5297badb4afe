/*
 * cert_x509.c: read PEM certificates with libcrypto and judge their dates
 * (http.h, cert_pem_list). Used by cert.check for files and for the leaf
 * a remote endpoint presents.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "module.h"

#define CERT_MAX      64  /* certificates read from one file */
#define CERT_SANS_MAX 100 /* names reported per certificate */
#define CERT_TEXT_MAX 1024

/* s cleaned in place (task_text_clean). */
static void
cert_printable(char *s)
{
	task_text_clean(s, strlen(s), s);
}

/* name in RFC 2253 form into buf (printable, capped). */
static void
cert_name(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b;
	int  n;

	buf[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, buf, (int)len - 1)) > 0)
		buf[n] = '\0';
	BIO_free(b);
	cert_printable(buf);
}

/* t as "YYYY-MM-DDTHH:MM:SSZ" into buf; "" when it does not convert. */
static void
cert_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	buf[0] = '\0';
	if (ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The DNS names and IP addresses of x's subjectAltName, as a new array. */
static json_t *
cert_sans(X509 *x)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME  *g;
	json_t        *a;
	char           buf[256];
	int            i, n, len;

	if ((a = json_array()) == NULL)
		return (NULL);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	for (i = 0; i < n && json_array_size(a) < CERT_SANS_MAX; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		buf[0] = '\0';
		if (g->type == GEN_DNS) {
			len = ASN1_STRING_length(g->d.dNSName);
			snprintf(buf, sizeof(buf), "%.*s",
			    len < (int)sizeof(buf) ? len : (int)sizeof(buf) - 1,
			    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		} else if (g->type == GEN_IPADD) {
			len = ASN1_STRING_length(g->d.iPAddress);
			if (len == 4 || len == 16)
				inet_ntop(len == 4 ? AF_INET : AF_INET6,
				    ASN1_STRING_get0_data(g->d.iPAddress), buf,
				    sizeof(buf));
		}
		cert_printable(buf);
		if (buf[0] != '\0')
			json_array_append_new(a, json_string(buf));
	}
	GENERAL_NAMES_free(gens);
	return (a);
}

/* The SHA-256 fingerprint of x in hex into buf (65 bytes). */
static void
cert_sha256(X509 *x, char *buf)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int  n = 0, i;

	buf[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return;
	for (i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", md[i]);
}

/*
 * One certificate as a JSON object, its status in *st. NULL when out of
 * memory.
 */
static json_t *
cert_entry(X509 *x, const char *host, int64_t warn_days, int64_t fail_days,
    Vsm__TaskStatus *st)
{
	const ASN1_TIME *nb = X509_get0_notBefore(x);
	const ASN1_TIME *na = X509_get0_notAfter(x);
	char             subject[CERT_TEXT_MAX], issuer[CERT_TEXT_MAX];
	char             before[32], after[32], fp[65];
	const char      *why = NULL;
	json_t          *o, *sans;
	double           days = 0;
	int              pday = 0, psec = 0;

	cert_name(X509_get_subject_name(x), subject, sizeof(subject));
	cert_name(X509_get_issuer_name(x), issuer, sizeof(issuer));
	cert_time(nb, before, sizeof(before));
	cert_time(na, after, sizeof(after));
	cert_sha256(x, fp);
	if (ASN1_TIME_diff(&pday, &psec, NULL, na) == 1)
		days = floor(((double)pday * 86400 + psec) / 86400);
	*st = VSM__TASK_STATUS__TASK_OK;
	if (X509_cmp_current_time(na) <= 0)
		why = "expired";
	else if (X509_cmp_current_time(nb) >= 0)
		why = "not yet valid";
	else if (days <= (double)fail_days)
		why = "expires within fail_days";
	else if (days <= (double)warn_days) {
		*st = VSM__TASK_STATUS__TASK_WARN;
		why = "expires within warn_days";
	}
	if (why != NULL && *st == VSM__TASK_STATUS__TASK_OK)
		*st = VSM__TASK_STATUS__TASK_FAIL;
	if ((sans = cert_sans(x)) == NULL)
		return (NULL);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:s}", "subject",
	    subject, "issuer", issuer, "not_before", before, "not_after", after,
	    "days_left", (json_int_t)days, "sans", sans, "sha256", fp, "status",
	    task_status_name(*st));
	if (o != NULL && why != NULL)
		json_object_set_new(o, "reason", json_string(why));
	if (o != NULL && host != NULL)
		json_object_set_new(o, "name_match",
		    json_boolean(X509_check_host(x, host, 0, 0, NULL) == 1 ||
		        X509_check_ip_asc(x, host, 0) == 1));
	return (o);
}

json_t *
cert_pem_list(const char *buf, size_t len, const char *host, int64_t warn_days,
    int64_t fail_days, Vsm__TaskStatus *worst, size_t *worst_idx,
    struct vsm_err *err)
{
	Vsm__TaskStatus st;
	unsigned long   e;
	json_t         *list = NULL, *o;
	BIO            *b = NULL;
	X509           *x = NULL;
	char            ebuf[256];

	*worst = VSM__TASK_STATUS__TASK_OK;
	*worst_idx = 0;
	ERR_clear_error();
	if (len > INT32_MAX || (b = BIO_new_mem_buf(buf, (int)len)) == NULL ||
	    (list = json_array()) == NULL) {
		vsm_err_set(err, "out of memory");
		goto fail;
	}
	while (json_array_size(list) < CERT_MAX &&
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if ((o = cert_entry(x, host, warn_days, fail_days, &st)) ==
		        NULL ||
		    json_array_append_new(list, o) == -1) {
			vsm_err_set(err, "out of memory");
			goto fail;
		}
		if (task_status_worse(*worst, st) != *worst ||
		    json_array_size(list) == 1) {
			*worst = st;
			*worst_idx = json_array_size(list) - 1;
		}
		X509_free(x);
		x = NULL;
	}
	/* The loop ends at the end of the input, or at a broken block. */
	e = ERR_peek_last_error();
	if (e != 0 &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
	        ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		vsm_err_set(err, "certificate %zu does not parse: %s",
		    json_array_size(list) + 1, ebuf);
		goto fail;
	}
	if (json_array_size(list) == 0) {
		vsm_err_set(err, "no PEM certificate found");
		goto fail;
	}
	ERR_clear_error();
	BIO_free(b);
	return (list);
fail:
	ERR_clear_error();
	X509_free(x);
	BIO_free(b);
	json_decref(list);
	return (NULL);
}
