/* tidegate-bench: parses the command line, checks the run fits this machine, runs the
 * scenario (run.c) and reports it (report.c, plot.c). Exit status: 0 when the run
 * completed, 1 when it could not run or a harness process failed, 2 for a usage error. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/params.h"
#include "bench/plot.h"
#include "bench/report.h"
#include "bench/run.h"
#include "bench/sysstat.h"
#include "core/loop.h"

/* Raises the soft open-file limit to the hard one; returns the limit in force. */
static uint64_t raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (uint64_t)rl.rlim_cur;
}

int main(int argc, char **argv)
{
    struct bench_params p;
    char err[BENCH_ERROR_BYTES];
    if (bench_params_parse(&p, argc, argv, err) != 0) {
        fprintf(stderr, "tidegate-bench: %s\n", err);
        return 2;
    }
    if (p.help) {
        bench_params_usage(stdout);
        return 0;
    }
    if (p.threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        p.threads = cpus > 0 ? (unsigned)(cpus < BENCH_THREADS_MAX ? cpus : BENCH_THREADS_MAX) : 1;
    }
    sysstat_local_ports(&p.local_port_first, &p.local_port_count);
    if (bench_params_check_limits(&p, raise_fd_limit(), p.local_port_count, err) != 0) {
        fprintf(stderr, "tidegate-bench: %s\n", err);
        return 2;
    }
    char loop_err[LOOP_ERROR_BYTES];
    if (loop_probe(loop_err) != 0) {
        fprintf(stderr, "tidegate-bench: %s\n", loop_err);
        return 1;
    }
    struct bench_run run;
    int ret = bench_run(&p, &run);
    if (ret != 0) {
        fprintf(stderr, "tidegate-bench: %s\n", run.error);
        bench_run_free(&run);
        return 1;
    }
    struct bench_figures fig;
    bench_figures_compute(&run, &fig);
    bench_report_summary(stdout, &run, &fig);
    fflush(stdout);
    int status = run.procs_failed > 0 ? 1 : 0;
    if (run.error[0] != '\0')
        fprintf(stderr, "tidegate-bench: %s\n", run.error);
    if (p.json_path != NULL && bench_report_json(p.json_path, &run, &fig, err) != 0) {
        fprintf(stderr, "tidegate-bench: %s\n", err);
        status = 1;
    }
    if (p.plot_path != NULL) {
        char title[160];
        snprintf(title, sizeof title, "tidegate-bench %s%s%s (%s adapter)",
                 bench_scenario_name(p.scenario), p.label[0] ? ": " : "", p.label,
                 bench_adapter_name(p.adapter));
        if (bench_plot_svg(p.plot_path, run.result, title, err) != 0) {
            fprintf(stderr, "tidegate-bench: %s\n", err);
            status = 1;
        }
    }
    bench_run_free(&run);
    return status;
}
