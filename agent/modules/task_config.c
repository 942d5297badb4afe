/*
 * task_config.c: the agent's config as the task child sees it (module.h).
 * The agent names its agent.yaml in TaskSpawn.config_path; the child loads
 * it with the same loader and checks, at most once per task.
 */
#include "module.h"

const struct vsm_agent_config *
task_config(struct task_ctx *ctx, struct vsm_err *err)
{
	const char *path = ctx->spawn != NULL ? ctx->spawn->config_path : NULL;

	if (ctx->cfg != NULL)
		return (ctx->cfg);
	if (path == NULL || path[0] == '\0') {
		vsm_err_set(err, "the agent sent no config path");
		return (NULL);
	}
	if (vsm_agent_config_load(path, &ctx->cfg, err) == -1)
		return (NULL);
	return (ctx->cfg);
}
