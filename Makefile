# livechart：make run 启动服务，make test 运行测试（两者都会自动创建 .venv 并安装依赖）。
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run run-prod test lint format bench soak clean screenshot

# 运行所需的依赖；requirements.txt 变化时重新安装
$(VENV)/.run-deps: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# 测试与检查所需的依赖
$(VENV)/.test-deps: $(VENV)/.run-deps tests/requirements.txt
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt
	touch $@

run: $(VENV)/.run-deps
	$(BIN)/python -m livechart

# 生产：gunicorn + ProductionConfig（需要 LIVECHART_API_USER / LIVECHART_API_PASSWORD；
# 多个工作进程时需要 LIVECHART_REDIS_URL）。WEB_CONCURRENCY 工作进程数，LIVECHART_THREADS 每进程线程数
run-prod: $(VENV)/.run-deps
	$(BIN)/python -m gunicorn -c python:livechart.gunicorn_config livechart.wsgi:app

# 先用两个工作进程、按文件分配跑大部分测试（一个文件的模块级服务进程只启动一次；时间大多在等节拍与进程启动），
# 再单独跑标了 serial 的文件：三个 gunicorn 工作进程按节拍计数、看所有权，和别的测试抢 CPU 时会误报。
# 单独跑某个文件：.venv/bin/python -m pytest tests/…
test: $(VENV)/.test-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -m serial

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.test-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# 基准的可选对照组（Dash）装进同一个 .venv
$(VENV)/.bench-deps: $(VENV)/.run-deps bench/requirements.txt
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

# 全部基准（约 35 分钟；需要 redis-server、wrk、chromium，有 nginx 时也与它比较），打印总表并写入 bench/results.json
bench: $(VENV)/.bench-deps
	$(BIN)/python -m bench.cpu
	$(BIN)/python -m bench.render
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.slowclients
	$(BIN)/python -m bench.pool
	$(BIN)/python -m bench.freshness
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.viewers
	$(BIN)/python -m bench.redis_writes
	$(BIN)/python -m bench.handover
	$(BIN)/python -m bench.reload
	$(BIN)/python -m bench.draw
	$(BIN)/python -m bench.variants
	$(BIN)/python -m bench.display
	$(BIN)/python -m bench.viewers200
	$(BIN)/python -m bench.summary

# 提供图片的基准之后，以一半容量持续请求 10 分钟：错误数与每个进程的 RSS 增长
soak: $(VENV)/.run-deps
	$(BIN)/python -m bench.serve --soak-minutes 10
	$(BIN)/python -m bench.summary

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# README 的截图（需要 Debian 的 chromium）
screenshot: $(VENV)/.test-deps
	$(BIN)/python -m tests.screenshot
