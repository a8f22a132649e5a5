import { Module } from '@nestjs/common';
import { AgentController } from './agent.controller.js';
import { StandInModel } from './stand-in-model.js';

@Module({ controllers: [AgentController], providers: [StandInModel] })
export class AgentModule {}
