# The API on Nomad: `nomad job run -var image=registry.example/flask-api:1.1.0 deploy/nomad/api.nomad.hcl`.
#
# Secrets live in Nomad Variables at nomad/jobs/flask-api, which this job's tasks may read:
#   nomad var put nomad/jobs/flask-api \
#     MONGO_URI='mongodb+srv://...' REDIS_URL='rediss://...' SMTP_URL='smtps://...' \
#     SECRET_KEY="$(openssl rand -base64 48)" JWT_SECRET_KEY="$(openssl rand -base64 48)"
# A prestart task runs `db init` (idempotent) before each allocation's web task starts, as
# Heroku's release phase does; the update stanza rolls allocations one at a time, each healthy
# on /ready before the next.

variable "image" {
  type        = string
  description = "The image built from the repository's Dockerfile"
  default     = "flask-api:1.1.0"
}

variable "public_url" {
  type        = string
  description = "The public https origin of the app: mailed links open the web client there"
  default     = "https://api.example.com"
}

variable "count" {
  type    = number
  default = 2
}

locals {
  # What both tasks run with, as their env: production mode, and the secrets from Nomad
  # Variables (never written in the job).
  shared_env = <<-EOT
    APP_ENV=production
    PUBLIC_URL=${var.public_url}
    {{ with nomadVar "nomad/jobs/flask-api" }}
    MONGO_URI={{ .MONGO_URI }}
    REDIS_URL={{ .REDIS_URL }}
    SECRET_KEY={{ .SECRET_KEY }}
    JWT_SECRET_KEY={{ .JWT_SECRET_KEY }}
    SMTP_URL={{ .SMTP_URL }}
    {{ end }}
  EOT
}

job "flask-api" {
  type = "service"

  update {
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    health_check      = "checks"
    auto_revert       = true
  }

  group "api" {
    count = var.count

    network {
      port "http" {
        to = 8000
      }
    }

    service {
      name     = "flask-api"
      port     = "http"
      provider = "nomad"

      # Readiness: MongoDB and Redis answer. (/health is the container's own liveness check.)
      check {
        name     = "ready"
        type     = "http"
        path     = "/ready"
        interval = "10s"
        timeout  = "3s"
      }
    }

    task "db-init" {
      driver = "docker"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        image      = var.image
        entrypoint = ["flask", "--app", "run", "db", "init"]
      }

      template {
        destination = "secrets/app.env"
        env         = true
        data        = local.shared_env
      }

      resources {
        cpu    = 100
        memory = 256
      }
    }

    task "api" {
      driver = "docker"

      config {
        image = var.image
        ports = ["http"]
      }

      template {
        destination = "secrets/app.env"
        env         = true
        data        = local.shared_env
      }

      env {
        PORT            = "8000"
        WEB_CONCURRENCY = "2"
        LOG_FORMAT      = "json"
      }

      # uwsgi's die-on-term: SIGTERM stops the workers after their current request.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }
}
