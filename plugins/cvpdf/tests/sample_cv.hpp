// Realistic CV used by the renderer tests and the benchmark: about two pages
// in every template.
#pragma once

#include <string>

#include "pdf/cv_data.hpp"

namespace malipo::cvpdf::testing {

inline CvData sampleCv() {
  CvData cv;
  cv.name = "Amina Mwakyusa";
  cv.title = "Senior Software Engineer \xE2\x80\x93 Payments & Mobile Money";
  cv.email = "amina.mwakyusa@example.com";
  cv.phone = "+255 754 123 456";
  cv.summary =
      "Software engineer with nine years of experience building payment systems for East African "
      "markets. I design reliable back-end services that reconcile mobile money, card and bank "
      "transfers, and I enjoy mentoring teams that ship carefully. Fluent in C++, Python and Go, "
      "with a strong interest in observability, fraud prevention and developer experience.";
  cv.experience = {
      {"Lead Backend Engineer", "Tigo Pesa Integrations Ltd", "2021 \xE2\x80\x93 present",
       "Led a team of six engineers building the USSD and API payment gateway used by 40 merchants.\n"
       "- Designed an idempotent payment state machine that removed duplicate charges entirely.\n"
       "- Cut median confirmation latency from 9 s to 1.4 s by replacing polling with callbacks.\n"
       "- Introduced contract tests with the operators\xE2\x80\x99 sandboxes and an on-call rota."},
      {"Senior Software Engineer", "Selcom Paytech", "2018 \xE2\x80\x93 2021",
       "Built the reconciliation service that matches operator statements with ledger entries "
       "every night, recovering about TZS 30 million a month in unsettled transactions.\n"
       "- Migrated the ledger from MySQL to PostgreSQL without downtime.\n"
       "- Wrote the merchant onboarding API and its documentation."},
      {"Software Engineer", "Vodacom Tanzania (M-Pesa)", "2016 \xE2\x80\x93 2018",
       "Maintained B2C disbursement tooling and the SMS notification pipeline. Added monitoring "
       "dashboards and alerting that shortened incident detection from hours to minutes."},
      {"Junior Developer", "Dar Teknohama Business Incubator", "2015 \xE2\x80\x93 2016",
       "Developed websites and small Android apps for local businesses; introduced version control "
       "and code review to the team."},
  };
  cv.education = {
      {"MSc Computer Science", "University of Dar es Salaam", "2019 \xE2\x80\x93 2021",
       "Thesis: detecting fraudulent mobile money agents with graph features. Graduated with distinction."},
      {"BSc Computer Engineering and IT", "University of Dar es Salaam", "2011 \xE2\x80\x93 2015",
       "Final project: offline-first point of sale for rural shops."},
      {"Advanced Certificate of Secondary Education", "Mzumbe Secondary School", "2009 \xE2\x80\x93 2011", ""},
  };
  cv.skills = {"C++17", "Python", "Go", "PostgreSQL", "Redis", "Kafka", "USSD gateways", "REST API design",
               "Docker", "Kubernetes", "Prometheus", "Grafana", "Payment reconciliation", "Fraud analytics",
               "Team leadership"};
  cv.languages = {"Swahili (native)", "English (fluent)", "French (intermediate)"};
  return cv;
}

}  // namespace malipo::cvpdf::testing
