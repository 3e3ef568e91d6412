BEGIN TRANSACTION;
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
INSERT INTO "experiments" VALUES(0,'Default',1.79599982336642861368e+09);
INSERT INTO "experiments" VALUES(1,'exp',1.7959998233928647041e+09);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
CREATE TABLE metric_summaries (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    key TEXT NOT NULL,
    last REAL, min REAL, max REAL,
    count INTEGER NOT NULL,
    last_step INTEGER,
    PRIMARY KEY (run_id, key));
INSERT INTO "metric_summaries" VALUES('e8ad8b07df9540bba8a18d52898572cc','rmse',0.9,0.9,0.9,1,NULL);
INSERT INTO "metric_summaries" VALUES('0a4f1de1684e4f90950cc65426d80368','rmse',0.4,0.4,0.4,1,NULL);
INSERT INTO "metric_summaries" VALUES('4001298381f54e0ba8ad4ea370d11069','rmse',0.7,0.7,0.7,1,NULL);
INSERT INTO "metric_summaries" VALUES('281410ae83b4460ea64b0b29a2987b01','rmse','NaN','NaN','NaN',1,NULL);
CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_id, name));
INSERT INTO "params" VALUES('e8ad8b07df9540bba8a18d52898572cc','alpha','0.1');
INSERT INTO "params" VALUES('0a4f1de1684e4f90950cc65426d80368','alpha','0.5');
INSERT INTO "params" VALUES('4001298381f54e0ba8ad4ea370d11069','alpha','1.0');
INSERT INTO "params" VALUES('281410ae83b4460ea64b0b29a2987b01','alpha','2');
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    status TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    exit_code INTEGER,
    record TEXT NOT NULL);
INSERT INTO "runs" VALUES('e8ad8b07df9540bba8a18d52898572cc',0,'FINISHED',1700000000.0,1700000010.0,0,'{"experiment":"Default","run_name":"run-0","entry_point":"main","command":"python train.py","source":{"uri":"/p","kind":"local","path":"/p","subdirectory":"","version":null,"commit":null,"dirty":null,"diff_hash":null,"repo_url":null,"archive_sha256":null},"parameters":[{"name":"alpha","type":"string","given":"0.1","value":"0.1","rendered":"0.1","declared":true,"secret_from":null}],"environment":{"kind":"local","key":null,"python":null,"lock":null,"details":{},"options":null},"user":"ann","host":"old-host","platform":"Linux","python_version":"3.11","proj_version":"0.v1","launcher":"1:1","start_time":1700000000,"backend":"local","backend_config":null,"run_id":"e8ad8b07df9540bba8a18d52898572cc","status":"RUNNING","end_time":null,"exit_code":null,"log":"/tmp/v1gen/store/runs/e8ad8b07df9540bba8a18d52898572cc/output.log","attachments":[],"tags":{"team":"vision"},"metrics":{},"metric_problems":[],"reproduction":null,"sweep_id":null,"job":null,"experiment_id":null,"mlflow":null,"parent_run_id":null,"child_runs":[],"duration":null}');
INSERT INTO "runs" VALUES('0a4f1de1684e4f90950cc65426d80368',1,'FINISHED',1700000001.0,1700000011.0,0,'{"experiment":"exp","run_name":"run-1","entry_point":"main","command":"python train.py","source":{"uri":"/p","kind":"local","path":"/p","subdirectory":"","version":null,"commit":null,"dirty":null,"diff_hash":null,"repo_url":null,"archive_sha256":null},"parameters":[{"name":"alpha","type":"string","given":"0.5","value":"0.5","rendered":"0.5","declared":true,"secret_from":null}],"environment":{"kind":"local","key":null,"python":null,"lock":null,"details":{},"options":null},"user":"ann","host":"old-host","platform":"Linux","python_version":"3.11","proj_version":"0.v1","launcher":"1:1","start_time":1700000001,"backend":"local","backend_config":null,"run_id":"0a4f1de1684e4f90950cc65426d80368","status":"RUNNING","end_time":null,"exit_code":null,"log":"/tmp/v1gen/store/runs/0a4f1de1684e4f90950cc65426d80368/output.log","attachments":[],"tags":{},"metrics":{},"metric_problems":[],"reproduction":null,"sweep_id":"5eed0000aaaa1111bbbb2222cccc3333","job":null,"experiment_id":null,"mlflow":null,"parent_run_id":null,"child_runs":[],"duration":null}');
INSERT INTO "runs" VALUES('4001298381f54e0ba8ad4ea370d11069',0,'FINISHED',1700000002.0,1700000012.0,0,'{"experiment":"Default","run_name":"run-2","entry_point":"main","command":"python train.py","source":{"uri":"/p","kind":"local","path":"/p","subdirectory":"","version":null,"commit":null,"dirty":null,"diff_hash":null,"repo_url":null,"archive_sha256":null},"parameters":[{"name":"alpha","type":"string","given":"1.0","value":"1.0","rendered":"1.0","declared":true,"secret_from":null}],"environment":{"kind":"local","key":null,"python":null,"lock":null,"details":{},"options":null},"user":"ann","host":"old-host","platform":"Linux","python_version":"3.11","proj_version":"0.v1","launcher":"1:1","start_time":1700000002,"backend":"local","backend_config":null,"run_id":"4001298381f54e0ba8ad4ea370d11069","status":"RUNNING","end_time":null,"exit_code":null,"log":"/tmp/v1gen/store/runs/4001298381f54e0ba8ad4ea370d11069/output.log","attachments":[],"tags":{},"metrics":{},"metric_problems":[],"reproduction":null,"sweep_id":"5eed0000aaaa1111bbbb2222cccc3333","job":null,"experiment_id":null,"mlflow":{"params":{},"tags":{"mlflow.source.type":"LOCAL","framework":"sk"},"models":[],"conflicts":[],"status":null,"problems":[]},"parent_run_id":null,"child_runs":[],"duration":null}');
INSERT INTO "runs" VALUES('281410ae83b4460ea64b0b29a2987b01',1,'FAILED',1700000003.0,1700000013.0,1,'{"experiment":"exp","run_name":"run-3","entry_point":"main","command":"python train.py","source":{"uri":"/p","kind":"local","path":"/p","subdirectory":"","version":null,"commit":null,"dirty":null,"diff_hash":null,"repo_url":null,"archive_sha256":null},"parameters":[{"name":"alpha","type":"string","given":"2","value":"2","rendered":"2","declared":true,"secret_from":null}],"environment":{"kind":"local","key":null,"python":null,"lock":null,"details":{},"options":null},"user":"ann","host":"old-host","platform":"Linux","python_version":"3.11","proj_version":"0.v1","launcher":"1:1","start_time":1700000003,"backend":"local","backend_config":null,"run_id":"281410ae83b4460ea64b0b29a2987b01","status":"RUNNING","end_time":null,"exit_code":null,"log":"/tmp/v1gen/store/runs/281410ae83b4460ea64b0b29a2987b01/output.log","attachments":[],"tags":{"team":"nlp","stage":"try"},"metrics":{},"metric_problems":[],"reproduction":null,"sweep_id":null,"job":null,"experiment_id":null,"mlflow":null,"parent_run_id":null,"child_runs":[],"duration":null}');
CREATE INDEX runs_newest ON runs(start_time DESC);
CREATE INDEX runs_by_experiment ON runs(experiment_id, start_time DESC);
CREATE INDEX params_by_value ON params(name, value);
CREATE INDEX metrics_by_key ON metric_summaries(key, last);
COMMIT;
